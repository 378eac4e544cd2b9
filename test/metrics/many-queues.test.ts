// Queue depth for every queue of a process that uses 1,000 of them (one per
// tenant, say): every series on /metrics, none cut by the SDK's cardinality
// limit, and what one collection costs (the numbers docs/telemetry.md
// states). Needs `npm run build`.
import { afterAll, beforeAll, expect, it } from 'vitest';
import { QUEUE_STATES } from '../../src/backends/backend.js';
import { MAX_WATCHED_QUEUES } from '../../src/metrics/queue-depth.js';
import { BULLMQ_PATH } from '../helpers/bullmq-majors.js';
import { killAll, spawnNode } from '../helpers/node-process.js';
import { freePort, waitFor } from '../helpers/ports.js';
import { RedisServer } from '../helpers/redis.js';
import { find, scrape } from './scrape.js';

let redis: RedisServer;

beforeAll(async () => {
  redis = await RedisServer.start();
});
afterAll(async () => {
  await killAll();
  await redis.close();
});

/** Calls so far from INFO commandstats: scripts (round trips) and every command (those inside scripts too). */
async function commandCalls(): Promise<{ scripts: number; commands: number }> {
  const client = redis.client();
  try {
    const info = await client.info('commandstats');
    const calls = [...info.matchAll(/^cmdstat_([^:]+):calls=(\d+)/gm)];
    const sum = (pick: (name: string) => boolean) =>
      calls.filter(([, name]) => pick(name!)).reduce((n, [, , c]) => n + Number(c), 0);
    return { scripts: sum((n) => /^eval/.test(n)), commands: sum((n) => n !== 'info') };
  } finally {
    client.disconnect();
  }
}

it(`reports all ${MAX_WATCHED_QUEUES} queues of one process, and one Redis call per queue per collection`, async () => {
  const port = await freePort();
  const app = spawnNode(
    ['--require', 'jobwatch/register', 'test/metrics/fixtures/many-queues.cjs'],
    {
      BULLMQ: BULLMQ_PATH,
      REDIS_URL: redis.url,
      QUEUES: String(MAX_WATCHED_QUEUES + 1),
      OTEL_TRACES_EXPORTER: 'none',
      OTEL_EXPORTER_PROMETHEUS_PORT: String(port),
      JOBWATCH_COLLECT_CACHE_MS: '0',
    },
  );
  const url = `http://127.0.0.1:${port}/metrics`;
  await waitFor(() => app.stdout.includes('ready'), { timeoutMs: 30_000, what: 'the jobs added' });
  const full = await waitFor(
    async () => {
      const e = await scrape(url);
      const waiting = find(e, 'bullmq_queue_jobs', { bullmq_job_state: 'waiting' });
      return waiting.length === MAX_WATCHED_QUEUES && waiting.every((s) => s.value === 1)
        ? e
        : undefined;
    },
    { timeoutMs: 30_000, what: `${MAX_WATCHED_QUEUES} queues with one waiting job each` },
  );
  expect(find(full, 'bullmq_queue_jobs')).toHaveLength(MAX_WATCHED_QUEUES * QUEUE_STATES.length);
  expect(find(full, 'bullmq_queue_oldest_waiting_job_age_seconds')).toHaveLength(
    MAX_WATCHED_QUEUES,
  );
  expect(full.text).not.toContain('otel_metric_overflow');
  // The one past the cap is named, once.
  const capped = app.stderr
    .split('\n')
    .filter((l) => /queue depth is reported for the first/.test(l));
  expect(capped).toHaveLength(1);
  expect(capped[0]).toContain(`"tenant-${MAX_WATCHED_QUEUES}"`);

  // What one collection costs: scrape time (median of 5) and Redis calls per scrape.
  const times: number[] = [];
  const scripts: number[] = [];
  const commands: number[] = [];
  for (let i = 0; i < 5; i++) {
    const before = await commandCalls();
    const started = performance.now();
    const res = await fetch(url);
    const bytes = (await res.text()).length;
    times.push(performance.now() - started);
    const after = await commandCalls();
    scripts.push(after.scripts - before.scripts);
    commands.push(after.commands - before.commands);
    if (i === 0) console.log(`many queues: /metrics is ${Math.round(bytes / 1024)} KiB`);
  }
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
  console.log(
    `many queues: ${MAX_WATCHED_QUEUES} queues, ${find(full, 'bullmq_queue_jobs').length + MAX_WATCHED_QUEUES} depth series; scrape median ${Math.round(median(times))} ms; per collection ${median(scripts)} script calls running ${median(commands)} commands`,
  );
  // One script call per queue (a heartbeat may land in the same window).
  expect(median(scripts)).toBeGreaterThanOrEqual(MAX_WATCHED_QUEUES);
  expect(median(scripts)).toBeLessThan(MAX_WATCHED_QUEUES + 5);
}, 90_000);
