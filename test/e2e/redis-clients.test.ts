// BullMQ 6's other Redis clients, as an app uses them: node-redis and Valkey
// GLIDE behind BullMQ's own adapters, with the preload. Worker health, queue
// depth and the registry scope are the same as on ioredis: the worker beats
// (worker_status 1, in the scope of its Redis), queue depth is reported, and
// once it is SIGKILLed the CLI (on ioredis) reads it dead. Needs `npm run build`.
import { describe, expect, it } from 'vitest';
import { BULLMQ_MAJOR, BULLMQ_PATH } from '../helpers/bullmq-majors.js';
import { spawnNode } from '../helpers/node-process.js';
import { freePort, waitFor } from '../helpers/ports.js';
import { RedisServer } from '../helpers/redis.js';
import { find, scrape } from '../metrics/scrape.js';

const INTERVAL = 300;

describe.skipIf(BULLMQ_MAJOR < 6).each(['node-redis', 'glide'])('an app on %s', (client) => {
  it('reports worker_status and queue depth in its registry, and dies visibly', async () => {
    const redis = await RedisServer.start();
    const port = await freePort();
    const app = spawnNode(['--require', 'jobwatch/register', 'test/fixtures/client-kinds.cjs'], {
      BULLMQ: BULLMQ_PATH,
      CLIENT: client,
      REDIS_URL: redis.url,
      QUEUE: `on-${client}`,
      JOBS: '3',
      OTEL_TRACES_EXPORTER: 'none',
      OTEL_EXPORTER_PROMETHEUS_PORT: String(port),
      JOBWATCH_HEARTBEAT_INTERVAL_MS: String(INTERVAL),
      JOBWATCH_COLLECT_CACHE_MS: '0',
    });
    try {
      await waitFor(() => (app.stdout.match(/processed/g) ?? []).length === 3, {
        timeoutMs: 20_000,
        what: `3 jobs processed (${app.stderr})`,
      });
      const scope = `redis://127.0.0.1:${redis.port}/0#bull`;
      const metrics = await waitFor(
        async () => {
          const e = await scrape(`http://127.0.0.1:${port}/metrics`);
          const done = find(e, 'bullmq_queue_jobs', { bullmq_job_state: 'completed' });
          return done[0]?.value === 3 ? e : undefined;
        },
        { what: 'queue depth on /metrics' },
      );
      expect(find(metrics, 'worker_status', { jobwatch_registry: scope })).toEqual([
        expect.objectContaining({ value: 1 }),
      ]);
      expect(find(metrics, 'bullmq_queue_jobs')[0]?.labels.jobwatch_registry).toBe(scope);
      expect(app.stderr).not.toMatch(/\[jobwatch\] (error|warning)/);

      app.child.kill('SIGKILL');
      await new Promise((r) => setTimeout(r, 3 * INTERVAL + 200));
      const check = spawnNode(['dist/cli/main.js', 'check', '--redis', redis.url], {
        JOBWATCH_REDIS_URL: '',
      });
      expect((await check.exited).code).toBe(1);
      const report = JSON.parse(check.stdout);
      expect(report.stores).toEqual([expect.objectContaining({ registry: scope, ok: true })]);
      expect(report.workers[`on-${client}`]).toMatchObject({ state: 'dead', pid: app.pid });
    } finally {
      await app.stop('SIGKILL');
      await redis.close();
    }
  }, 60_000);
});
