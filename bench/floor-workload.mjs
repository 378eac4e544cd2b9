// The SDK floor (`sdk-floor` mode): per job, what jobwatch asks of the stock
// OpenTelemetry SDK, made directly in a loop with no BullMQ and no Redis: a
// producer span, the context injected into a carrier and serialized as job
// metadata, that metadata parsed and extracted, a consumer span under it, and
// the two histogram records. Same SDK setup as the traced modes (telemetry.cjs:
// always-on sampler, batch processor, counting exporter, collecting reader),
// the same span names and attribute sets as jobwatch's. Nothing jobwatch does
// per job can cost less than this on the stock SDK.
import { context, metrics, propagation, ROOT_CONTEXT, SpanKind, trace } from '@opentelemetry/api';
import { cpuMeter, finish, plan, profiled } from './child.mjs';

const QUEUE = 'bench-floor';
const tracer = trace.getTracer('bench-floor');
const meter = metrics.getMeter('bench-floor');
const processDuration = meter.createHistogram('messaging.process.duration', { unit: 's' });
const waitDuration = meter.createHistogram('bullmq.job.wait.duration', { unit: 's' });

const common = {
  'messaging.system': 'bullmq',
  'messaging.destination.name': QUEUE,
};
const createAttributes = {
  ...common,
  'messaging.operation.type': 'create',
  'messaging.operation.name': 'create',
  'messaging.client.id': '4b1f0a4e-6c5e-4a59-9a27-0a3b4d1f2e6c',
};
const processAttributes = {
  ...common,
  'messaging.operation.type': 'process',
  'messaging.operation.name': 'process',
  'messaging.client.id': '0e8f7d6c-5b4a-4392-8170-6f5e4d3c2b1a',
  'bullmq.worker.name': QUEUE,
};
const waitAttributes = {
  'messaging.destination.name': QUEUE,
  'bullmq.job.name': 'noop',
  'bullmq.worker.name': QUEUE,
};
const durationAttributes = {
  'messaging.system': 'bullmq',
  'messaging.operation.name': 'process',
  ...waitAttributes,
};

function oneJob(i) {
  const parent = context.active();
  const create = tracer.startSpan(
    `create ${QUEUE}`,
    { kind: SpanKind.PRODUCER, attributes: { ...createAttributes, 'bullmq.job.name': 'noop' } },
    parent,
  );
  const carrier = {};
  propagation.inject(trace.setSpan(parent, create), carrier);
  const metadata = JSON.stringify(carrier);
  create.setAttribute('messaging.message.id', String(i));
  create.end();

  const producer = propagation.extract(ROOT_CONTEXT, JSON.parse(metadata));
  waitDuration.record(0.001, waitAttributes);
  const span = tracer.startSpan(
    `process ${QUEUE}`,
    {
      kind: SpanKind.CONSUMER,
      attributes: {
        ...processAttributes,
        'messaging.message.id': String(i),
        'bullmq.job.name': 'noop',
        'bullmq.job.attempt': 1,
        'bullmq.job.attempts_started': 1,
      },
    },
    producer,
  );
  trace.setSpan(producer, span);
  span.setAttribute('bullmq.job.outcome', 'completed');
  span.end();
  processDuration.record(0.0001, durationAttributes);
}

/** `n` jobs in chunks, yielding between them so the batch processor exports as it would. */
async function loop(from, n) {
  for (let start = 0; start < n; start += plan.chunk) {
    const end = Math.min(n, start + plan.chunk);
    for (let i = start; i < end; i++) oneJob(from + i);
    await new Promise(setImmediate);
  }
}

async function main() {
  const jobs = plan.floorJobs;
  await loop(0, plan.floorWarmup);
  const cpu = cpuMeter();
  const start = process.hrtime.bigint();
  await profiled(() => loop(plan.floorWarmup, jobs));
  const seconds = Number(process.hrtime.bigint() - start) / 1e9;
  const cpuPerJob = cpu(jobs);
  await finish({
    throughput: {
      jobs,
      seconds,
      jobsPerSec: jobs / seconds,
      ...cpuPerJob,
      redis: { commandsPerJob: 0, perCommand: {}, cpuUsPerJob: 0 },
      completed: plan.floorWarmup + jobs,
      expected: plan.floorWarmup + jobs,
    },
  });
}

await main();
