// The real /metrics text of a real BullMQ app started with
// `--require jobwatch/register` (run `npm run build` first): jobs that
// succeed, fail, retry, wait out a delay and stall, and the exact names,
// types, units, labels and counts a user's queries and alerts rely on.
import { randomUUID } from 'node:crypto';
import { Queue, Worker } from 'bullmq';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { QUEUE_STATES } from '../../src/backends/backend.js';
import { PROCESS_BUCKETS, WAIT_BUCKETS } from '../../src/metrics/job-metrics.js';
import { BULLMQ_PATH } from '../helpers/bullmq-majors.js';
import { killAll, spawnNode } from '../helpers/node-process.js';
import { freePort, waitFor } from '../helpers/ports.js';
import { RedisServer } from '../helpers/redis.js';
import { type Exposition, find, ownLabels, type Sample, scrape, value } from './scrape.js';

const BULLMQ = BULLMQ_PATH;

let redis: RedisServer;
const closers: (() => Promise<unknown>)[] = [];

beforeAll(async () => {
  redis = await RedisServer.start();
});
afterEach(async () => {
  await killAll();
  for (const close of closers.splice(0).reverse()) await close().catch(() => undefined);
});
afterAll(async () => {
  await redis.close();
});

interface AppJob {
  name: string;
  data?: Record<string, unknown>;
  opts?: Record<string, unknown>;
  bulk?: number;
}

/** Starts the fixture app with the preload; resolves with its /metrics URL. */
async function startApp(
  queue: string,
  workerName: string,
  jobs: AppJob[] = [],
  env: Record<string, string> = {},
) {
  const port = await freePort();
  const app = spawnNode(['--require', 'jobwatch/register', 'test/metrics/fixtures/app.cjs'], {
    BULLMQ,
    QUEUE: queue,
    WORKER_NAME: workerName,
    REDIS_URL: redis.url,
    ADD_JOBS: JSON.stringify(jobs),
    STALLED_INTERVAL_MS: '500',
    OTEL_TRACES_EXPORTER: 'none',
    OTEL_EXPORTER_PROMETHEUS_PORT: String(port),
    JOBWATCH_COLLECT_CACHE_MS: '0',
    ...env,
  });
  const url = `http://127.0.0.1:${port}/metrics`;
  await waitFor(async () => (await fetch(url)).ok, { what: 'the app /metrics', timeoutMs: 20_000 });
  return { app, url };
}

function queueOf(name: string): Queue {
  const q = new Queue(name, { connection: redis.connection });
  closers.push(() => q.close());
  return q;
}

const sumOf = (samples: Sample[]) => samples.reduce((n, s) => n + s.value, 0);

const ALLOWED_LABELS = new Set([
  'messaging_system',
  'messaging_operation_name',
  'messaging_destination_name',
  'bullmq_job_name',
  'bullmq_worker_name',
  'error_type',
  'bullmq_job_state',
  'bullmq_worker_state', // bullmq_worker_instances
  'reason', // bullmq_worker_heartbeat_errors_total: a fixed set of 8
  'jobwatch_registry', // one per registry (store and prefix) the process reads
]);

describe('/metrics of a preloaded BullMQ app', () => {
  it('counts what happened to jobs, with the contract names, types, units and labels', async () => {
    const queue = `billing-${randomUUID()}`;
    const worker = 'billing-worker';

    // A job left active with a lock that expires: the app's stall check finds it.
    const stuckQueue = queueOf(queue);
    await stuckQueue.add('charge', {});
    const holder = new Worker(queue, null, {
      connection: redis.connection,
      autorun: false,
      lockDuration: 1000,
    });
    // disconnect, not close: BullMQ 5.40's close() calls run() on a Worker without a processor,
    // which rejects with nobody to catch it
    closers.push(() => holder.disconnect());
    await holder.getNextJob(randomUUID());

    const { app, url } = await startApp(queue, worker, [
      { name: 'charge', bulk: 5 },
      { name: 'charge', data: { failWith: 'UpstreamTimeoutError', times: 2 }, opts: retrying(3) },
      { name: 'refund', data: { failWith: 'PaymentDeclinedError' }, opts: retrying(2) },
      { name: 'report', opts: { delay: 1500 } },
      { name: 'email', bulk: 3 },
    ]);
    // 5 + 3 (two failures, then success) + 2 (two failures, the last final)
    // + 1 (delayed) + 3 + 1 (the stalled job, run again) = 15 attempts
    const attempts = 15;
    const e = await waitFor(
      async () => {
        const s = await scrape(url);
        const done = sumOf(find(s, 'messaging_client_consumed_messages_total')) === attempts;
        return done && value(s, 'bullmq_job_stalled_total') === 1 ? s : undefined;
      },
      { what: `${attempts} attempts and a stall`, timeoutMs: 30_000 },
    );
    expect(app.stderr).not.toMatch(/\[jobwatch\] (error|warning)/);

    const base = { messaging_destination_name: queue };
    const consumer = { ...base, bullmq_worker_name: worker };
    const processing = {
      messaging_system: 'bullmq',
      messaging_operation_name: 'process',
      ...consumer,
    };

    // Types and units
    expect(
      Object.fromEntries(
        [
          'messaging_client_sent_messages_total',
          'messaging_client_consumed_messages_total',
          'messaging_process_duration_seconds',
          'bullmq_job_wait_duration_seconds',
          'bullmq_job_retries_total',
          'bullmq_job_failures_total',
          'bullmq_job_stalled_total',
          'bullmq_queue_jobs',
          'bullmq_queue_collection_errors_total',
        ].map((n) => [n, e.types.get(n)]),
      ),
    ).toEqual({
      messaging_client_sent_messages_total: 'counter',
      messaging_client_consumed_messages_total: 'counter',
      messaging_process_duration_seconds: 'histogram',
      bullmq_job_wait_duration_seconds: 'histogram',
      bullmq_job_retries_total: 'counter',
      bullmq_job_failures_total: 'counter',
      bullmq_job_stalled_total: 'counter',
      bullmq_queue_jobs: 'gauge',
      bullmq_queue_collection_errors_total: 'counter',
    });
    expect(e.units.get('messaging_process_duration_seconds')).toBe('seconds');
    expect(e.units.get('bullmq_job_wait_duration_seconds')).toBe('seconds');
    expect(e.units.has('messaging_client_consumed_messages_total')).toBe(false);

    // Sent: per add, each job of a bulk; the stuck job came from elsewhere.
    const sent = { messaging_system: 'bullmq', messaging_operation_name: 'send', ...base };
    expect(labelled(e, 'messaging_client_sent_messages_total')).toEqual(
      new Map([
        [key({ ...sent, bullmq_job_name: 'charge' }), 6],
        [key({ ...sent, bullmq_job_name: 'refund' }), 1],
        [key({ ...sent, bullmq_job_name: 'report' }), 1],
        [key({ ...sent, bullmq_job_name: 'email' }), 3],
      ]),
    );

    // Consumed: per attempt, error.type (the class name) on failed attempts.
    const consumed = new Map([
      [key({ ...processing, bullmq_job_name: 'charge' }), 7],
      [key({ ...processing, bullmq_job_name: 'charge', error_type: 'UpstreamTimeoutError' }), 2],
      [key({ ...processing, bullmq_job_name: 'refund' }), 0],
      [key({ ...processing, bullmq_job_name: 'refund', error_type: 'PaymentDeclinedError' }), 2],
      [key({ ...processing, bullmq_job_name: 'report' }), 1],
      [key({ ...processing, bullmq_job_name: 'email' }), 3],
    ]);
    expect(labelled(e, 'messaging_client_consumed_messages_total')).toEqual(consumed);
    // The duration histogram has one observation per attempt, in the same
    // series (a counter series starts at 0; a histogram's at its first attempt).
    const attempted = new Map([...consumed].filter(([, count]) => count > 0));
    expect(labelled(e, 'messaging_process_duration_seconds_count')).toEqual(attempted);
    for (const [labels, count] of attempted) {
      const buckets = find(e, 'messaging_process_duration_seconds_bucket').filter(
        (b) => key(b.labels) === labels,
      );
      expect(buckets.map((b) => b.labels.le)).toEqual([...PROCESS_BUCKETS.map(String), '+Inf']);
      expect(buckets.at(-1)!.value).toBe(count);
    }

    // Retries scheduled, final failures, stalls
    const failure = (job: string, type: string) =>
      key({ ...consumer, bullmq_job_name: job, error_type: type });
    expect(labelled(e, 'bullmq_job_retries_total')).toEqual(
      new Map([
        [failure('charge', 'UpstreamTimeoutError'), 2],
        [failure('refund', 'PaymentDeclinedError'), 1],
      ]),
    );
    expect(labelled(e, 'bullmq_job_failures_total')).toEqual(
      new Map([
        [failure('charge', 'UpstreamTimeoutError'), 0],
        [failure('refund', 'PaymentDeclinedError'), 1],
      ]),
    );
    expect(labelled(e, 'bullmq_job_stalled_total')).toEqual(new Map([[key(consumer), 1]]));

    // Wait: one per job's first start (the stalled job was first started
    // elsewhere); the delayed job's wait starts when its 1.5 s delay ends.
    expect(labelled(e, 'bullmq_job_wait_duration_seconds_count')).toEqual(
      new Map([
        [key({ ...consumer, bullmq_job_name: 'charge' }), 6],
        [key({ ...consumer, bullmq_job_name: 'refund' }), 1],
        [key({ ...consumer, bullmq_job_name: 'report' }), 1],
        [key({ ...consumer, bullmq_job_name: 'email' }), 3],
      ]),
    );
    const report = { ...consumer, bullmq_job_name: 'report' };
    expect(value(e, 'bullmq_job_wait_duration_seconds_sum', report)).toBeLessThan(1);
    const waitBuckets = find(e, 'bullmq_job_wait_duration_seconds_bucket', report);
    expect(waitBuckets.map((b) => b.labels.le)).toEqual([...WAIT_BUCKETS.map(String), '+Inf']);

    // Queue depth: this process uses the queue, so it reports it, every state.
    for (const state of QUEUE_STATES) {
      expect(value(e, 'bullmq_queue_jobs', { ...base, bullmq_job_state: state })).toBeTypeOf(
        'number',
      );
    }
    expect(value(e, 'bullmq_queue_jobs', { ...base, bullmq_job_state: 'failed' })).toBe(1);

    // Bounded labels only: no job id, payload or error message anywhere.
    const jobwatch = e.samples.filter((s) => s.labels.otel_scope_name === 'jobwatch');
    for (const s of jobwatch) {
      for (const label of Object.keys(ownLabels(s))) expect(ALLOWED_LABELS).toContain(label);
    }
    // the error message's words, not its bare number: the queue's random name may hold '4242'
    expect(e.text).not.toContain('declined');
    expect(e.text).not.toContain('card 4242');
  });

  it('reports no queue depth, and still the job metrics, with JOBWATCH_QUEUE_DEPTH=false', async () => {
    const queue = `no-depth-${randomUUID()}`;
    const { url } = await startApp(queue, 'quiet', [{ name: 'ping' }], {
      JOBWATCH_QUEUE_DEPTH: 'false',
    });
    const e = await waitFor(
      async () => {
        const s = await scrape(url);
        return value(s, 'messaging_client_consumed_messages_total') === 1 ? s : undefined;
      },
      { what: 'the job' },
    );
    expect(find(e, 'bullmq_queue_jobs')).toEqual([]);
    expect(find(e, 'bullmq_queue_collection_errors_total')).toEqual([]);
  });

  it('gives the same series for 10,000 jobs with distinct ids as for 10', async () => {
    const queue = `cardinality-${randomUUID()}`;
    const { url } = await startApp(queue, 'bulk-worker');
    const producer = queueOf(queue);
    const run = async (from: number, n: number) => {
      const jobs = Array.from({ length: n }, (_, i) => ({
        name: 'sync',
        data: {},
        opts: { jobId: `order-${from + i}-${randomUUID()}`, removeOnComplete: true },
      }));
      for (let i = 0; i < jobs.length; i += 1000) await producer.addBulk(jobs.slice(i, i + 1000));
      const total = from + n;
      return waitFor(
        async () => {
          const s = await scrape(url);
          return sumOf(find(s, 'messaging_client_consumed_messages_total')) === total
            ? s
            : undefined;
        },
        { what: `${total} jobs processed`, timeoutMs: 60_000, intervalMs: 250 },
      );
    };
    const series = (s: Exposition) =>
      s.samples
        .filter((x) => x.labels.otel_scope_name === 'jobwatch')
        .map((x) => `${x.name}${key(x.labels)}`)
        .sort();

    const ten = series(await run(0, 10));
    const tenThousand = series(await run(10, 9990));
    expect(ten.length).toBeGreaterThan(0);
    expect(tenThousand).toEqual(ten);
  });
});

function retrying(attempts: number) {
  return { attempts, backoff: { type: 'fixed', delay: 100 } };
}

/** A stable key for a series' own labels (not the scope's, nor a bucket's `le`). */
function key(labels: Record<string, string>): string {
  const { otel_scope_name, otel_scope_version, le, ...own } = labels;
  return JSON.stringify(
    Object.fromEntries(Object.entries(own).sort(([a], [b]) => a.localeCompare(b))),
  );
}

/** name's samples from jobwatch, by label set. */
function labelled(e: Exposition, name: string): Map<string, number> {
  return new Map(
    find(e, name, { otel_scope_name: 'jobwatch' }).map((s) => [key(s.labels), s.value]),
  );
}
