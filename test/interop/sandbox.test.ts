// Sandboxed processors: a Worker given a processor file runs it in a child
// process or a worker thread. With only the preload, the spans the user's code
// makes there join the job's `process` span, they are flushed when the worker
// closes, and the parent stays the one registered worker (status, metrics).
import { Queue } from 'bullmq';
import { describe, expect, it } from 'vitest';
import { BULLMQ_MAJORS } from '../helpers/bullmq-majors.js';
import { spawnNode } from '../helpers/node-process.js';
import { waitFor } from '../helpers/ports.js';
import { SPAN_KIND, usePreloadedSetup } from '../helpers/preloaded.js';
import { scrape } from '../metrics/scrape.js';

const setup = usePreloadedSetup();

const PRODUCER_TRACE = '4bf92f3577b34da6a3ce929d0e0e4736';
const PRODUCER_SPAN = '00f067aa0ba902b7';

// BullMQ 5 ends a worker thread with terminate() at close, without a word to
// the thread: spans still waiting in its batch are lost then, so there they
// are checked as exported on the batch schedule instead of at close.
// An ES module app imports BullMQ and is preloaded with `--import jobwatch/register`;
// the sandbox inherits that flag (Node loads BullMQ's CommonJS build either way).
describe.each([
  [6, 'a child process', '0', true, false],
  [6, 'a worker thread', '1', true, false],
  [6, 'a child process, for an ES module app', '0', true, true],
  [6, 'a worker thread, for an ES module app', '1', true, true],
  [5, 'a child process', '0', true, false],
  [5, 'a worker thread', '1', false, false],
] as const)('BullMQ %i, processor in %s', (major, _mode, threads, flushedAtClose, esm) => {
  const queueName = `sandbox-${major}-${threads === '1' ? 'thread' : 'child'}${esm ? '-esm' : ''}`;

  it("puts the processor's own spans under the process span, and keeps status and metrics on the parent", async () => {
    const env = await setup.env({
      QUEUE: queueName,
      THREADS: threads,
      BULLMQ_PATH: BULLMQ_MAJORS[major],
      BULLMQ_ESM: esm ? '1' : '0',
      OTEL_SERVICE_NAME: queueName,
      // flushedAtClose: nothing exported on a timer, spans must arrive through the flushes at close
      OTEL_BSP_SCHEDULE_DELAY: flushedAtClose ? '600000' : '100',
    });
    const preload = esm ? '--import' : '--require';
    const app = spawnNode([preload, 'jobwatch/register', 'test/fixtures/sandbox/app.cjs'], env);
    // starting takes seconds on a busy CI machine
    await waitFor(() => app.stdout.includes('ready'), { what: 'the worker', timeoutMs: 30_000 });
    const queue = new Queue(queueName, { connection: setup.redis.connection });
    const metadata = JSON.stringify({ traceparent: `00-${PRODUCER_TRACE}-${PRODUCER_SPAN}-01` });
    const job = await queue.add('work', { n: 1 }, { telemetry: { metadata } });
    await queue.close();

    const [, sandboxPid] = await waitFor(
      () => new RegExp(`^completed ${job.id} (\\d+)$`, 'm').exec(app.stdout),
      { what: 'the job', timeoutMs: 20_000 },
    );
    if (threads === '1') expect(Number(sandboxPid)).toBe(app.pid);
    else expect(Number(sandboxPid)).not.toBe(app.pid);

    const metricsUrl = `http://127.0.0.1:${env.OTEL_EXPORTER_PROMETHEUS_PORT}/metrics`;
    const sample = (samples: Awaited<ReturnType<typeof scrape>>['samples'], name: string) =>
      samples.find((s) => s.name === name && s.labels.messaging_destination_name === queueName)
        ?.value;
    const { samples } = await waitFor(
      async () => {
        const exposition = await scrape(metricsUrl);
        return sample(exposition.samples, 'worker_status') === 1 ? exposition : undefined;
      },
      { what: 'worker_status 1', timeoutMs: 30_000 },
    );
    expect(sample(samples, 'messaging_client_consumed_messages_total')).toBe(1);

    const inTrace = () => setup.receiver.spans.filter((s) => s.traceId === PRODUCER_TRACE);
    if (!flushedAtClose) await waitFor(() => inTrace().length === 2, { what: 'the spans' });
    expect(await app.stop('SIGTERM')).toEqual({ code: 0, signal: null });
    const spans = inTrace();
    const process = spans.find((s) => s.kind === SPAN_KIND.CONSUMER)!;
    const work = spans.find((s) => s.name === 'sandboxed work')!;
    expect(process).toMatchObject({ name: `process ${queueName}`, parentSpanId: PRODUCER_SPAN });
    expect(work).toBeDefined();
    expect(work.parentSpanId).toBe(process.spanId);
    expect(work.attributes).toMatchObject({
      'app.job_id': job.id,
      'app.main_thread': threads !== '1',
      'app.pid': Number(sandboxPid),
      'app.job_keys': '',
    });
    expect(spans).toHaveLength(2);
    expect(app.stderr).not.toContain('[jobwatch]');
    expect(app.stderr).not.toMatch(/EADDRINUSE|failed/);
  }, 120_000);
});
