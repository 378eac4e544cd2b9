// Log records that join the trace, with no code change: pino, winston and
// bunyan lines written inside a job carry the trace and span ids of that
// job's `process` span, the job (id, queue, attempt) and the id of the
// request that enqueued it; lines written in that request's handler carry
// its server span. job.log() lines land on the process span only when opted
// in. Real processes, a real OTLP receiver, real Redis. Needs `npm run build`.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startOtlpReceiver } from '../../examples/otlp-receiver.mjs';
import { BULLMQ_PATH } from '../helpers/bullmq-majors.js';
import { killAll, spawnNode } from '../helpers/node-process.js';
import { waitFor } from '../helpers/ports.js';
import { RedisServer } from '../helpers/redis.js';

let redis: RedisServer;
let receiver: Awaited<ReturnType<typeof startOtlpReceiver>>;

beforeAll(async () => {
  redis = await RedisServer.start();
  receiver = await startOtlpReceiver();
});
afterAll(async () => {
  await killAll();
  await receiver?.close();
  await redis?.close();
});

/** The JSON records an app wrote on stdout with `step` set. */
function records(stdout: string): Record<string, any>[] {
  return stdout
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l))
    .filter((r) => r.step);
}

const env = (queue: string, extra: Record<string, string> = {}) => ({
  BULLMQ: BULLMQ_PATH,
  REDIS_URL: redis.url,
  QUEUE: queue,
  OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url,
  OTEL_METRICS_EXPORTER: 'none',
  OTEL_BSP_SCHEDULE_DELAY: '100',
  JOBWATCH_REQUEST_ID_HEADER: 'x-request-id',
  ...extra,
});

describe.each(['pino', 'winston', 'bunyan'])('%s', (logger) => {
  it('a line in a job carries its process span, the job and the request id; a line in the request its server span', async () => {
    const queue = `logs-${logger}`;
    const app = spawnNode(
      ['--require', 'jobwatch/register', 'test/logs/fixtures/logging-app.cjs'],
      env(queue, { LOGGER: logger, LINES: '2' }),
    );
    const port = await waitFor(() => /ready (\d+)/.exec(app.stderr)?.[1], { what: 'the app' });
    const res = await fetch(`http://127.0.0.1:${port}/enqueue`, {
      method: 'POST',
      headers: { 'x-request-id': `req-${logger}` },
    });
    const { id } = (await res.json()) as { id: string };
    const span = await waitFor(() => receiver.spans.find((s) => s.name === `process ${queue}`), {
      what: 'the process span',
    });
    const server = receiver.spans.find(
      (s) => s.kind === 2 && s.traceId === span.traceId && s.name === 'POST',
    );
    expect(server, 'the server span of the request').toBeDefined();
    const [enqueue, processing] = ['enqueue', 'processing'].map((step) =>
      records(app.stdout).find((r) => r.step === step),
    );
    expect(processing).toMatchObject({
      trace_id: span.traceId,
      span_id: span.spanId,
      trace_flags: '01',
      'messaging.message.id': id,
      'messaging.destination.name': queue,
      'bullmq.job.attempt': 1,
      'request.id': `req-${logger}`,
    });
    expect(enqueue).toMatchObject({
      trace_id: span.traceId,
      span_id: server!.spanId,
      'request.id': `req-${logger}`,
    });
    expect(enqueue).not.toHaveProperty('messaging.message.id');
    // The request id is on the spans too; job.log() lines are not (not opted in).
    expect(span.attributes['request.id']).toBe(`req-${logger}`);
    expect(server!.attributes['request.id']).toBe(`req-${logger}`);
    expect(span.events.filter((e) => e.name === 'bullmq.job.log')).toEqual([]);
    expect(app.stderr).not.toMatch(/\[jobwatch\] (error|warning)/);
  });
});

it('adds nothing with JOBWATCH_LOG_CORRELATION=false, and leaves the app’s records as they were', async () => {
  const queue = 'logs-off';
  const app = spawnNode(
    ['--require', 'jobwatch/register', 'test/logs/fixtures/logging-app.cjs'],
    env(queue, { LOGGER: 'pino', JOBWATCH_LOG_CORRELATION: 'false' }),
  );
  const port = await waitFor(() => /ready (\d+)/.exec(app.stderr)?.[1], { what: 'the app' });
  await fetch(`http://127.0.0.1:${port}/enqueue`, { method: 'POST' });
  await waitFor(() => receiver.spans.find((s) => s.name === `process ${queue}`), {
    what: 'the process span (traces still on)',
  });
  const line = await waitFor(() => records(app.stdout).find((r) => r.step === 'processing'), {
    what: 'the line',
  });
  expect(Object.keys(line).sort()).toEqual(['hostname', 'level', 'msg', 'pid', 'step', 'time']);
});

it('pino in an ES module app (--import) gets the same fields', async () => {
  const queue = 'logs-pino-esm';
  const app = spawnNode(
    ['--import', 'jobwatch/register', 'test/logs/fixtures/pino-app.mjs'],
    env(queue),
  );
  const span = await waitFor(() => receiver.spans.find((s) => s.name === `process ${queue}`), {
    what: `the process span (${app.stderr})`,
  });
  const line = await waitFor(() => records(app.stdout).find((r) => r.step === 'processing'), {
    what: 'the line',
  });
  expect(line).toMatchObject({ trace_id: span.traceId, span_id: span.spanId });
});

it('job.log() lines become events on the attempt’s span only when opted in, bounded in count and size', async () => {
  const queue = 'logs-job-log';
  const app = spawnNode(
    ['--require', 'jobwatch/register', 'test/logs/fixtures/logging-app.cjs'],
    env(queue, {
      LOGGER: 'pino',
      LINES: '130',
      JOBWATCH_CAPTURE_JOB_LOGS: 'true',
      JOBWATCH_CAPTURE_MAX_BYTES: '6',
    }),
  );
  const port = await waitFor(() => /ready (\d+)/.exec(app.stderr)?.[1], { what: 'the app' });
  await fetch(`http://127.0.0.1:${port}/enqueue`, { method: 'POST' });
  const span = await waitFor(() => receiver.spans.find((s) => s.name === `process ${queue}`), {
    what: 'the process span',
  });
  const lines = span.events.filter((e) => e.name === 'bullmq.job.log');
  expect(lines).toHaveLength(100);
  expect(lines[0]!.attributes['bullmq.job.log.message']).toBe('line 1');
  expect(span.attributes['bullmq.job.log.dropped']).toBe(30);
});
