// When Redis refuses jobwatch's own commands but not the app's (a Redis ACL
// user that may run BullMQ's commands but not TIME, or not jobwatch's keys):
// jobs run, /health/ready stays 200, one line names what is missing,
// /health/queues answers 503 "unknown" saying heartbeats are unavailable and
// why, and a counter lets an alert say so. Needs `npm run build`.
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { describe, expect, it } from 'vitest';
import { redisFailureReason } from '../../src/backends/redis/errors.js';
import { spawnNode } from '../helpers/node-process.js';
import { freePort, waitFor } from '../helpers/ports.js';
import { scrape } from '../metrics/scrape.js';
import { aclRefusals } from './acl-refusals.js';
import { redisPerFile } from './redis-per-file.js';

const redis = redisPerFile();

async function aclUser(name: string, rules: string[]): Promise<string> {
  const admin = redis.server.client();
  try {
    await admin.call('ACL', 'SETUSER', name, 'reset', 'on', '>pw', '&*', ...rules);
  } finally {
    admin.disconnect();
  }
  return `redis://${name}:pw@127.0.0.1:${redis.server.port}`;
}

async function refusedWorker(queue: string, url: string) {
  const metricsPort = await freePort();
  const healthPort = await freePort();
  const proc = spawnNode(
    ['--require', 'jobwatch/register', './test/health/fixtures/worker-app.cjs'],
    {
      REDIS_URL: url,
      WORKERS: queue,
      OTEL_TRACES_EXPORTER: 'none',
      OTEL_EXPORTER_PROMETHEUS_PORT: String(metricsPort),
      JOBWATCH_HEALTH_PORT: String(healthPort),
      JOBWATCH_HEARTBEAT_INTERVAL_MS: '300',
    },
  );
  await waitFor(() => proc.stdout.includes('ready') || !proc.running, { what: 'worker ready' });
  expect(proc.running, proc.stderr).toBe(true);
  const health = (path: string) => fetch(`http://127.0.0.1:${healthPort}/health/${path}`);
  return { proc, health, metrics: `http://127.0.0.1:${metricsPort}/metrics` };
}

async function errorsByReason(metrics: string): Promise<Record<string, number>> {
  const { samples } = await scrape(metrics);
  return Object.fromEntries(
    samples
      .filter((s) => s.name === 'bullmq_worker_heartbeat_errors_total')
      .map((s) => [s.labels.reason!, s.value]),
  );
}

describe('Redis refuses jobwatch, not the app', () => {
  it.each(aclRefusals((queue) => `bull:${queue}:*`))(
    '%s: jobs run, ready stays 200, one line, heartbeats unavailable, a counter',
    async (_, queue, rules, says) => {
      const url = await aclUser(`user-${queue}`, rules);
      const app = await refusedWorker(queue, url);
      const producer = new Queue(queue, { connection: redis.server.connection });
      await producer.addBulk(Array.from({ length: 5 }, (_, i) => ({ name: 'n', data: { i } })));
      await waitFor(() => (app.proc.stdout.match(/processed/g) ?? []).length === 5, {
        what: 'the 5 jobs processed',
      });
      await producer.close();
      const counts = await waitFor(
        async () => {
          const c = await errorsByReason(app.metrics);
          return (c.noperm ?? 0) >= 2 ? c : undefined;
        },
        { what: 'refused heartbeats counted' },
      );
      // Every reason is exported from the start, so an alert's increase() sees the first error.
      expect(Object.keys(counts).sort()).toEqual([
        'connection',
        'crossslot',
        'noperm',
        'oom',
        'other',
        'readonly',
        'timeout',
        'unknown_command',
      ]);
      expect((await app.health('ready')).status).toBe(200);
      // Its workers run, but no one else can see them (or see them die): no verdict, and why.
      const res = await app.health('queues');
      expect(res.status).toBe(503);
      const queues = (await res.json()) as any;
      expect(queues.status).toBe('unknown');
      expect(queues.reason).toMatch(/noperm|can't run this command/);
      expect(queues.heartbeats).toMatch(/^unavailable \(noperm: /);
      expect(queues.heartbeats).toMatch(says);
      const lines = app.proc.stderr
        .split('\n')
        .filter((l) => /refused by Redis \(noperm\)/.test(l));
      expect(lines.length, app.proc.stderr).toBe(1);
      expect(lines[0]).toMatch(says);
    },
    60_000,
  );
});

describe('refusal reasons from a real Redis', () => {
  it('names OOM, unknown commands, NOPERM and lost connections', async () => {
    const client = redis.server.client();
    const failure = (work: Promise<unknown>) =>
      work.then(
        () => 'no error',
        (err) => redisFailureReason(err),
      );
    try {
      expect(await failure(client.call('NOSUCHCOMMAND'))).toBe('unknown_command');
      await client.config('SET', 'maxmemory', '1');
      expect(await failure(client.set('k', 'v'))).toBe('oom');
      await client.config('SET', 'maxmemory', '0');
      const url = await aclUser('user-none', ['~*', '+@all', '-get']);
      const limited = new Redis(url);
      expect(await failure(limited.get('k'))).toBe('noperm');
      limited.disconnect();
      const gone = new Redis({
        port: await freePort(),
        maxRetriesPerRequest: 0,
        retryStrategy: () => null,
      });
      gone.on('error', () => undefined);
      expect(['connection']).toContain(await failure(gone.get('k')));
      gone.disconnect();
    } finally {
      client.disconnect();
    }
  });
});
