// Short-lived processes under the preload exit when they would without it:
// jobwatch's own Redis connections (JOBWATCH_REDIS_URL) connect only when
// used, never hold the event loop open, and stop reconnecting once the app's
// last BullMQ connection has ended. Needs `npm run build`.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawnNode } from '../helpers/node-process.js';
import { freePort, waitFor } from '../helpers/ports.js';
import { RedisServer } from '../helpers/redis.js';

// The design's target is 1 s; the margin is for a loaded machine, not for jobwatch.
const EXIT_BOUND_MS = 3000;
const INTERVAL = 300;
let redis: RedisServer;

beforeAll(async () => {
  redis = await RedisServer.start();
});
afterAll(() => redis.close());

/** Runs `args` under the preload; resolves with its exit code and how long it lived after "done". */
async function run(args: string[], env: Record<string, string>) {
  const proc = spawnNode(['--require', 'jobwatch/register', ...args], {
    OTEL_TRACES_EXPORTER: 'none',
    OTEL_EXPORTER_PROMETHEUS_PORT: String(await freePort()),
    JOBWATCH_REDIS_URL: redis.url,
    REDIS_URL: redis.url,
    ...env,
  });
  let doneAt = 0;
  proc.child.stdout?.on('data', () => {
    if (!doneAt && /^(done|1)$/m.test(proc.stdout)) doneAt = performance.now();
  });
  const killer = setTimeout(() => proc.child.kill('SIGKILL'), 20_000);
  const { code, signal } = await proc.exited;
  clearTimeout(killer);
  return { code, signal, afterDoneMs: performance.now() - doneAt, proc };
}

/** Connections named "jobwatch" (its own, not BullMQ's) that Redis sees now. */
async function ownConnections(): Promise<number> {
  const client = redis.client();
  try {
    const list = (await client.call('CLIENT', 'LIST')) as string;
    return list.split('\n').filter((line) => / name=jobwatch /.test(line)).length;
  } finally {
    client.disconnect();
  }
}

describe("jobwatch's own Redis connections", () => {
  it("one per Redis URL, closed once the app's last BullMQ connection ended", async () => {
    const proc = spawnNode(
      ['--require', 'jobwatch/register', './test/health/fixtures/short-script.cjs'],
      {
        OTEL_TRACES_EXPORTER: 'none',
        OTEL_EXPORTER_PROMETHEUS_PORT: String(await freePort()),
        JOBWATCH_HEALTH_PORT: String(await freePort()),
        JOBWATCH_REDIS_URL: redis.url,
        JOBWATCH_QUEUES: 'short,other',
        REDIS_URL: redis.url,
        MODE: 'linger',
      },
    );
    await waitFor(() => proc.stdout.includes('scraped') || !proc.running, { what: 'scraped' });
    expect(proc.running, proc.stderr).toBe(true);
    // Health (registry reads) and metrics (queue depth) both used it: still one.
    expect(await ownConnections()).toBe(1);
    proc.child.kill('SIGUSR2');
    await waitFor(() => proc.stdout.includes('closed'), { what: 'queue closed' });
    await waitFor(async () => (await ownConnections()) === 0, { what: 'own connection closed' });
    // and not reopened by the next beats (the lease, the registry): 3 intervals later still none
    await new Promise((r) => setTimeout(r, 3 * INTERVAL));
    expect(await ownConnections()).toBe(0);
    expect(proc.running).toBe(true);
    await proc.stop('SIGKILL');
  });
});

describe('short scripts exit with JOBWATCH_REDIS_URL set', () => {
  it('node -e "console.log(1)"', async () => {
    const r = await run(['-e', 'console.log(1)'], {});
    expect(r.signal, r.proc.stderr).toBeNull();
    expect(r.code).toBe(0);
    expect(r.afterDoneMs).toBeLessThan(EXIT_BOUND_MS);
  });

  it.each(['queue', 'worker', 'scrape'])(
    'a script that uses BullMQ (%s) and ends',
    async (mode) => {
      const r = await run(['./test/health/fixtures/short-script.cjs'], {
        MODE: mode,
        JOBWATCH_QUEUES: 'short',
      });
      expect(r.signal, r.proc.stderr).toBeNull();
      expect(r.code, r.proc.stderr).toBe(0);
      expect(r.proc.stdout).toContain('done');
      if (mode === 'scrape') expect(r.proc.stdout).toContain('queue depth read');
      expect(r.afterDoneMs).toBeLessThan(EXIT_BOUND_MS);
    },
  );

  it('also when JOBWATCH_REDIS_URL points at a Redis that refuses connections', async () => {
    const r = await run(['./test/health/fixtures/short-script.cjs'], {
      MODE: 'scrape',
      JOBWATCH_QUEUES: 'short',
      JOBWATCH_REDIS_URL: `redis://127.0.0.1:${await freePort()}`,
    });
    expect(r.signal, r.proc.stderr).toBeNull();
    expect(r.proc.stdout).toContain('no queue depth');
    expect(r.afterDoneMs).toBeLessThan(EXIT_BOUND_MS);
  });
});
