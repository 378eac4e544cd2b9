// The fleet model on real processes started with the preload: every process
// reports its own workers; one process (the lease holder) reports the whole
// registry, including dead replicas and dead processes; the lease moves when
// its holder dies; series leave /metrics with the entries. Needs `npm run build`.
import { describe, expect, it } from 'vitest';
import { leaseKey, registryBase } from '../../src/backends/redis/keys.js';
import { redisStore } from '../../src/backends/redis/registry-store.js';
import type { WrittenFields } from '../../src/registry/entry.js';
import { MISSED_BEATS_FOR_DEAD } from '../../src/registry/liveness.js';
import { MAX_INSTANCES_PER_REGISTRY } from '../../src/registry/store.js';
import { type NodeProcess, spawnNode } from '../helpers/node-process.js';
import { freePort, waitFor } from '../helpers/ports.js';
import { writtenFields } from '../helpers/registry-fields.js';
import { scrape } from '../metrics/scrape.js';
import { redisPerFile } from './redis-per-file.js';

const INTERVAL = 400;
/** The design's bound for a crash (3 beats, one lease move, one collection), with a wide margin. */
const DETECTION_BOUND_MS = 2 * MISSED_BEATS_FOR_DEAD * INTERVAL + 5000;
const redis = redisPerFile();

interface App {
  proc: NodeProcess;
  metrics: string;
}

async function app(fixture: string, env: Record<string, string>): Promise<App> {
  const port = await freePort();
  const proc = spawnNode(['--require', 'jobwatch/register', `./test/health/fixtures/${fixture}`], {
    REDIS_URL: redis.server.url,
    OTEL_TRACES_EXPORTER: 'none',
    OTEL_EXPORTER_PROMETHEUS_PORT: String(port),
    JOBWATCH_HEARTBEAT_INTERVAL_MS: String(INTERVAL),
    ...env,
  });
  await waitFor(() => proc.stdout.includes('ready') || !proc.running, { what: `${fixture} ready` });
  expect(proc.running, proc.stderr).toBe(true);
  return { proc, metrics: `http://127.0.0.1:${port}/metrics` };
}

/** The samples of `name` on `target`'s /metrics, keyed by the labels that matter. */
async function series(target: App, name: string) {
  const { samples } = await scrape(target.metrics);
  return samples.filter((s) => s.name === name);
}

async function status(target: App, worker: string): Promise<number | undefined> {
  return (await series(target, 'worker_status')).find((s) => s.labels.bullmq_worker_name === worker)
    ?.value;
}

async function instances(target: App, worker: string, state: string) {
  return (await series(target, 'bullmq_worker_instances')).find(
    (s) => s.labels.bullmq_worker_name === worker && s.labels.bullmq_worker_state === state,
  )?.value;
}

/** Starts `fixture` first and waits until it holds the fleet-view lease. */
async function holder(fixture: string, env: Record<string, string>): Promise<App> {
  const started = await app(fixture, env);
  await waitFor(async () => (await leaseHolder())?.includes(`:${started.proc.pid}:`), {
    what: `${fixture} holds the lease`,
  });
  return started;
}

async function leaseHolder(): Promise<string | null> {
  const client = redis.server.client();
  try {
    return await client.get(leaseKey('bull'));
  } finally {
    client.disconnect();
  }
}

/** What an old replica wrote on its way out. */
const LEFTOVER: Partial<WrittenFields> = {
  host: 'old-host',
  status: 'stopped',
  reason: 'stopped cleanly (worker.close())',
  processed: 10,
  failed: 0,
  stalled: 0,
  active: 0,
  oldestActiveMs: 0,
  jobwatchVersion: 'old',
  bullmqVersion: '5.0.0',
};

/** Entries a rolling deploy leaves behind: stopped instances of old replicas, written as real beats. */
async function seedLeftovers(count: number): Promise<void> {
  const client = redis.server.client();
  const store = redisStore(client as never, 'bull');
  const settings = { intervalMs: 5000, stuckJobMs: 0 };
  const writes: Promise<number>[] = [];
  for (let i = 0; i < count; i++) {
    const fields: WrittenFields = {
      ...writtenFields(`leftover-${i}`, LEFTOVER),
      name: `old-${i % 50}`,
      queue: `old-${i % 50}`,
      pid: 100_000 + i,
      ...settings,
    };
    writes.push(store.writeBeat(fields, 15 * 60_000, true));
  }
  await Promise.all(writes);
  client.disconnect();
}

describe('fleet view', () => {
  it('a SIGKILLed worker is reported 0 with 2,000 leftover entries in the registry', async () => {
    await seedLeftovers(2000);
    const view = await holder('view-app.cjs', { QUEUE: 'crowded' });
    const worker = await app('worker-app.cjs', { WORKERS: 'crowded' });
    await waitFor(async () => (await status(view, 'crowded')) === 1, { what: 'crowded up' });
    // The leftovers are in the fleet view too, as stopped instances.
    expect(await instances(view, 'old-7', 'stopped')).toBe(40);
    worker.proc.child.kill('SIGKILL');
    const killedAt = performance.now();
    await waitFor(async () => (await status(view, 'crowded')) === 0, {
      timeoutMs: DETECTION_BOUND_MS,
      intervalMs: 100,
      what: 'crowded reported 0',
    });
    console.log(`2,000 leftovers: SIGKILL -> 0 in ${Math.round(performance.now() - killedAt)} ms`);
    expect(await instances(view, 'crowded', 'dead')).toBe(1);
  }, 60_000);

  it('past the read cap the oldest stopped entries are left out, said once and counted, never a live one', async () => {
    await seedLeftovers(MAX_INSTANCES_PER_REGISTRY + 50);
    const view = await holder('view-app.cjs', { QUEUE: 'capped' });
    const worker = await app('worker-app.cjs', { WORKERS: 'capped' });
    await waitFor(async () => (await status(view, 'capped')) === 1, { what: 'capped up' });
    const dropped = (await series(view, 'bullmq_worker_registry_dropped_total'))[0]?.value ?? 0;
    expect(dropped).toBeGreaterThanOrEqual(51); // the 50 over the cap, and room for the live one
    const lines = view.proc.stderr.split('\n').filter((l) => /left out of the fleet view/.test(l));
    expect(lines).toHaveLength(1);
    worker.proc.child.kill('SIGKILL');
    await waitFor(async () => (await status(view, 'capped')) === 0, {
      timeoutMs: DETECTION_BOUND_MS,
      what: 'capped reported 0',
    });
  }, 90_000);

  it('a dead replica among live ones shows as dead while worker_status stays 1', async () => {
    const view = await holder('view-app.cjs', { QUEUE: 'replicas' });
    const replicas = [];
    for (let i = 0; i < 3; i++) replicas.push(await app('worker-app.cjs', { WORKERS: 'replicas' }));
    await waitFor(async () => (await instances(view, 'replicas', 'running')) === 3, {
      what: '3 running replicas',
    });
    replicas[1]!.proc.child.kill('SIGKILL');
    await waitFor(async () => (await instances(view, 'replicas', 'dead')) === 1, {
      timeoutMs: DETECTION_BOUND_MS,
      what: 'one dead replica',
    });
    expect(await instances(view, 'replicas', 'running')).toBe(2);
    expect(await status(view, 'replicas')).toBe(1);
    // Each replica reports only itself: its own worker_status, no fleet series.
    expect(await status(replicas[0]!, 'replicas')).toBe(1);
    expect(await series(replicas[0]!, 'bullmq_worker_instances')).toEqual([]);
  }, 60_000);

  it('the lease holder is SIGKILLed: a survivor takes over and reports it dead', async () => {
    const first = await holder('worker-app.cjs', { WORKERS: 'leader-w' });
    const second = await app('worker-app.cjs', { WORKERS: 'survivor-w' });
    // Not the holder: it reports itself, not the other process.
    expect(await status(second, 'leader-w')).toBeUndefined();
    // ...while the holder reports both, once its view has read the newcomer's first beat.
    await waitFor(async () => (await status(first, 'survivor-w')) === 1, {
      what: 'the holder reports the newcomer',
    });
    first.proc.child.kill('SIGKILL');
    const killedAt = performance.now();
    await waitFor(async () => (await status(second, 'leader-w')) === 0, {
      timeoutMs: DETECTION_BOUND_MS,
      intervalMs: 100,
      what: 'the survivor reports the dead holder',
    });
    console.log(
      `holder SIGKILL -> survivor reports 0 in ${Math.round(performance.now() - killedAt)} ms`,
    );
    expect(await leaseHolder()).toContain(`:${second.proc.pid}:`);
    expect(await instances(second, 'leader-w', 'dead')).toBe(1);
    expect(await status(second, 'survivor-w')).toBe(1);
  }, 60_000);

  it('a clean stop hands the lease over at once', async () => {
    const first = await holder('worker-app.cjs', { WORKERS: 'handover-a' });
    const second = await app('worker-app.cjs', { WORKERS: 'handover-b' });
    await first.proc.stop('SIGTERM');
    // Given up on the way out (not left to expire): free, or already the survivor's.
    const after = await leaseHolder();
    expect(after === null || after.includes(`:${second.proc.pid}:`), String(after)).toBe(true);
    await waitFor(async () => (await status(second, 'handover-a')) === 0, {
      what: 'the new holder reports the stopped worker',
    });
    expect(await instances(second, 'handover-a', 'stopped')).toBe(1);
  }, 60_000);

  it('no stale series: a purged worker leaves /metrics at the next collection', async () => {
    const view = await holder('view-app.cjs', { QUEUE: 'purged' });
    const worker = await app('worker-app.cjs', { WORKERS: 'purged' });
    await waitFor(async () => (await status(view, 'purged')) === 1, { what: 'purged up' });
    worker.proc.child.kill('SIGKILL');
    await waitFor(async () => (await status(view, 'purged')) === 0, {
      timeoutMs: DETECTION_BOUND_MS,
      what: 'purged reported 0',
    });
    const client = redis.server.client();
    const keys = await client.keys(`${registryBase('bull')}:*`);
    await client.del(...keys.filter((k) => !k.endsWith(':lease')));
    client.disconnect();
    await waitFor(async () => (await status(view, 'purged')) === undefined, {
      what: 'the purged worker gone from /metrics',
    });
    expect(
      (await series(view, 'bullmq_worker_instances')).filter(
        (s) => s.labels.bullmq_worker_name === 'purged',
      ),
    ).toEqual([]);
  }, 60_000);

  it("series stay O(names + processes): only the holder exports other processes' workers", async () => {
    const view = await holder('view-app.cjs', { QUEUE: 'count-0' });
    const workers = [];
    for (let i = 0; i < 4; i++)
      workers.push(await app('worker-app.cjs', { WORKERS: `count-${i}` }));
    await waitFor(async () => (await series(view, 'worker_status')).length === 4, {
      what: 'the holder exports all 4 names',
    });
    const perProcess = await Promise.all(workers.map((w) => series(w, 'worker_status')));
    expect(perProcess.map((s) => s.length)).toEqual([1, 1, 1, 1]);
  }, 60_000);
});
