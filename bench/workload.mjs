// The per-process workload: one mode, one fresh node process. The orchestrator
// (run.mjs) starts it with the mode's preloads and env, and reads the JSON it
// writes to BENCH_RESULT_FILE. Every timing is taken after a warm-up.
import { Redis } from 'ioredis';
import {
  addInChunks,
  bullmq,
  connection,
  cpuMeter,
  env,
  finish,
  finishedJobs,
  plan,
  profiled,
  redisDelta,
  redisSnapshot,
  telemetryOption,
} from './child.mjs';
import { quantile } from './stats.mjs';

const QUEUES = { throughput: 'bench-throughput', add: 'bench-add', pickup: 'bench-pickup' };
const noop = async () => {};

/**
 * With BENCH_PINO (the `*-pino` modes) the processor writes one pino line per
 * job to /dev/null, as an app that logs each job does: what log correlation
 * adds to that line is what those modes measure.
 */
const processor = env.BENCH_PINO ? await loggingProcessor() : noop;

async function loggingProcessor() {
  const { default: pino } = await import('pino');
  const logger = pino(pino.destination({ dest: '/dev/null', sync: true }));
  return async (job) => {
    logger.info({ job: job.id }, 'processed');
  };
}
const TRACE_ID = '4bf92f3577b34da6a3ce929d0e0e4736';

/**
 * The standard job; with BENCH_JOB_METADATA (the `plain6-metadata` mode) it
 * also carries a trace context as jobwatch writes it, each with its own span
 * id, but no telemetry reads or writes it: what carrying the context through
 * Redis costs BullMQ and ioredis alone.
 */
const jobOf = env.BENCH_JOB_METADATA
  ? (i) => ({
      name: 'noop',
      data: { i },
      opts: {
        telemetry: {
          metadata: `{"traceparent":"00-${TRACE_ID}-${i.toString(16).padStart(16, '1')}-01"}`,
        },
      },
    })
  : undefined;

/** addBulk `plan.jobs` no-op jobs while a Worker with `plan.concurrency` consumes them. */
async function throughput(extra, stats) {
  const queue = new bullmq.Queue(QUEUES.throughput, { connection, ...extra });
  const worker = new bullmq.Worker(QUEUES.throughput, processor, {
    connection,
    concurrency: plan.concurrency,
    removeOnComplete: { count: 1000 },
    ...extra,
  });
  const done = finishedJobs(worker);
  await worker.waitUntilReady();
  await addInChunks(queue, plan.warmup, jobOf);
  await done.until(plan.warmup);

  const redisBefore = await redisSnapshot(stats);
  const cpu = cpuMeter();
  const start = process.hrtime.bigint();
  await profiled(async () => {
    await addInChunks(queue, plan.jobs, jobOf);
    await done.until(plan.warmup + plan.jobs);
  });
  const seconds = Number(process.hrtime.bigint() - start) / 1e9;
  const cpuPerJob = cpu(plan.jobs);
  const redis = redisDelta(redisBefore, await redisSnapshot(stats), plan.jobs);
  // what a processed job carried in its telemetry metadata (jobwatch's, bullmq-otel's, or the metadata mode's)
  const [last] = await queue.getCompleted(0, 0);
  const metadata = last?.opts?.telemetry?.metadata ?? null;

  await worker.close();
  await queue.close();
  return {
    jobs: plan.jobs,
    seconds,
    jobsPerSec: plan.jobs / seconds,
    ...cpuPerJob,
    redis,
    completed: done.count,
    expected: plan.warmup + plan.jobs,
    metadata,
  };
}

/** Sequential Queue.add; returns each call's latency in ms. */
async function addLatency(extra) {
  const queue = new bullmq.Queue(QUEUES.add, { connection, ...extra });
  for (let i = 0; i < plan.addWarmup; i++) await queue.add('noop', { i });
  const samples = [];
  for (let i = 0; i < plan.adds; i++) {
    const t = process.hrtime.bigint();
    await queue.add('noop', { i });
    samples.push(Number(process.hrtime.bigint() - t) / 1e6);
  }
  await queue.close();
  return { p50: quantile(samples, 0.5), p99: quantile(samples, 0.99), samples: samples.length };
}

/** One job at a time: from just before Queue.add to the processor's first line, in ms. */
async function pickupLatency(extra) {
  let started;
  const queue = new bullmq.Queue(QUEUES.pickup, { connection, ...extra });
  const worker = new bullmq.Worker(
    QUEUES.pickup,
    async () => {
      started(process.hrtime.bigint());
    },
    { connection, concurrency: 1, removeOnComplete: { count: 1000 }, ...extra },
  );
  const done = finishedJobs(worker);
  await worker.waitUntilReady();
  const samples = [];
  const total = plan.pickupWarmup + plan.pickups;
  for (let i = 0; i < total; i++) {
    const processorStart = new Promise((resolve) => {
      started = resolve;
    });
    const t = process.hrtime.bigint();
    await queue.add('noop', { i });
    const latency = Number((await processorStart) - t) / 1e6;
    await done.until(i + 1);
    if (i >= plan.pickupWarmup) samples.push(latency);
  }
  await worker.close();
  await queue.close();
  return {
    p50: quantile(samples, 0.5),
    p99: quantile(samples, 0.99),
    samples: samples.length,
    completed: done.count,
    expected: total,
  };
}

async function main() {
  const extra = await telemetryOption();
  const stats = new Redis(connection);
  const result = {
    throughput: await throughput(extra, stats),
    add: await addLatency(extra),
    pickup: await pickupLatency(extra),
  };
  stats.disconnect();
  await finish(result);
}

await main();
