// BullMQ's own exporter (Queue.exportPrometheusMetrics(), BullMQ 5.37 on:
// bullmq_job_count, bullmq_job_completed_total, bullmq_job_failed_total, with
// a `queue` label) scraped beside a preloaded app by one real Prometheus that
// loads jobwatch's rules: jobwatch's rules and dashboard never read BullMQ's
// series, so no sum mixes the two. Needs `npm run build`.
import { createServer, type Server } from 'node:http';
import { Queue } from 'bullmq';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { killAll, spawnNode } from '../helpers/node-process.js';
import { freePort, waitFor } from '../helpers/ports.js';
import { PrometheusServer } from '../helpers/prometheus.js';
import { RedisServer } from '../helpers/redis.js';
import { shippedRules } from '../helpers/rules-override.js';
import { dashboard, read } from './stack-files.js';

const QUEUE = 'payments';
const BULLMQ_NAMES = ['bullmq_job_count', 'bullmq_job_completed_total', 'bullmq_job_failed_total'];

let redis: RedisServer;
let prometheus: PrometheusServer;
let exporter: Server;
let queue: Queue;

beforeAll(async () => {
  redis = await RedisServer.start();
  queue = new Queue(QUEUE, { connection: redis.connection });
  const bullmqPort = await freePort();
  exporter = createServer(async (_req, res) => {
    res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4' });
    res.end(`${await queue.exportPrometheusMetrics({ env: 'test' })}\n`);
  });
  await new Promise<void>((r) => exporter.listen(bullmqPort, '127.0.0.1', r));
  const appPort = await freePort();
  spawnNode(['--require', 'jobwatch/register', 'test/metrics/fixtures/app.cjs'], {
    QUEUE,
    WORKER_NAME: 'charger',
    REDIS_URL: redis.url,
    ADD_JOBS: JSON.stringify([
      { name: 'charge', bulk: 5 },
      { name: 'charge', data: { failWith: 'CardDeclined' }, bulk: 2 },
    ]),
    OTEL_TRACES_EXPORTER: 'none',
    OTEL_EXPORTER_PROMETHEUS_PORT: String(appPort),
    JOBWATCH_COLLECT_CACHE_MS: '0',
  });
  prometheus = await PrometheusServer.start({
    ruleFiles: [shippedRules],
    scrapeJobs: [
      { job: 'app', targets: [`127.0.0.1:${appPort}`] },
      { job: 'bullmq', targets: [`127.0.0.1:${bullmqPort}`] },
    ],
  });
  await waitFor(
    async () =>
      (await prometheus.query('bullmq_job_failed_total')).length > 0 &&
      (await prometheus.query('sum(bullmq_job_failures_total) == 2')).length > 0,
    { timeoutMs: 30_000, what: 'both exporters scraped, the failures recorded' },
  );
}, 60_000);

afterAll(async () => {
  await killAll();
  await prometheus?.stop();
  await new Promise((r) => exporter?.close(r));
  await queue?.close();
  await redis?.close();
});

it('shares no metric name with BullMQ’s exporter, in what it exports or what it reads', async () => {
  const ours = await prometheus.api<string[]>('label/__name__/values', {
    'match[]': '{job="app"}',
  });
  const theirs = await prometheus.api<string[]>('label/__name__/values', {
    'match[]': '{job="bullmq"}',
  });
  expect(theirs).toEqual(expect.arrayContaining(BULLMQ_NAMES));
  expect(
    ours.filter(
      (n) =>
        theirs.includes(n) &&
        !['up', 'scrape_duration_seconds'].includes(n) &&
        !n.startsWith('scrape_'),
    ),
  ).toEqual([]);
  const readers = `${read('alerts/jobwatch.rules.yml')}\n${JSON.stringify(dashboard)}`;
  for (const name of BULLMQ_NAMES) expect(readers, name).not.toMatch(new RegExp(`\\b${name}\\b`));
});

it('keeps every recorded series free of BullMQ’s labels, and failures counted once', async () => {
  const recorded = await waitFor(
    async () => {
      const found = await prometheus.query('{__name__=~"worker_queue:.+|queue:.+"}');
      const names = new Set(found.map((s) => s.metric.__name__));
      return names.has('worker_queue:worker_status:max') &&
        names.has('queue:bullmq_queue_backlog_jobs:sum')
        ? found
        : undefined;
    },
    { what: 'the recording rules evaluated' },
  );
  for (const s of recorded) {
    expect(s.metric.queue, s.metric.__name__).toBeUndefined();
    expect(s.metric.state, s.metric.__name__).toBeUndefined();
  }
  // jobwatch's failures (2 jobs failed for good) are the app's alone, whatever BullMQ counts.
  const [failures] = await prometheus.query('sum(bullmq_job_failures_total)');
  expect(failures?.value).toBe(2);
  const [depth] = await prometheus.query(
    `sum(max by (jobwatch_registry, bullmq_job_state) (bullmq_queue_jobs{messaging_destination_name="${QUEUE}",bullmq_job_state="failed"}))`,
  );
  expect(depth?.value).toBe(2);
});
