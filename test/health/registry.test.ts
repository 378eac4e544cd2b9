// The registry with real Redis and real BullMQ Workers in this process: what a
// writer puts in Redis and what another view (with its own writer) concludes.
import { Worker } from 'bullmq';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { beatsKey, instanceKey } from '../../src/backends/redis/keys.js';
import { parseConfig } from '../../src/config.js';
import { createHealth, type Health, healthObserver } from '../../src/health/index.js';
import type { WorkerGroup } from '../../src/health/view/view.js';
import { setTaskHost, watch } from '../../src/health/watch.js';
import type { WorkerLike } from '../../src/lifecycle.js';
import { BULLMQ_VERSION, bullmqAtLeast } from '../helpers/bullmq-majors.js';
import { waitFor } from '../helpers/ports.js';
import { RedisServer } from '../helpers/redis.js';

const INTERVAL = 200;
let redis: RedisServer;
const cleanups: (() => Promise<unknown> | unknown)[] = [];

function health(extra: Record<string, string> = {}): Health {
  const { config } = parseConfig({
    JOBWATCH_HEARTBEAT_INTERVAL_MS: String(INTERVAL),
    JOBWATCH_COLLECT_CACHE_MS: '100',
    JOBWATCH_REDIS_URL: redis.url,
    ...extra,
  });
  const h = createHealth(config);
  h.writer.start();
  cleanups.push(() => h.stop('test over'));
  return h;
}

function worker(
  queue: string,
  processor: () => Promise<unknown> = async () => 'ok',
  name?: string,
) {
  const w = new Worker(queue, processor, {
    connection: redis.connection,
    ...(name ? { name } : {}),
  });
  cleanups.push(() => w.close(true));
  return w;
}

async function group(view: Health, name: string): Promise<WorkerGroup | undefined> {
  return (await view.view.snapshot('fleet')).workers.find((g) => g.name === name);
}

beforeAll(async () => {
  redis = await RedisServer.start();
});

afterAll(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup();
  await redis.close();
});

describe('worker registry', () => {
  it('registers a worker in Redis and another view sees it alive, with Redis time', async () => {
    const writer = health();
    const w = worker('reg-alive');
    healthObserver(writer).workerStarted?.(w as unknown as WorkerLike);
    const other = health();
    const seen = await waitFor(async () => {
      const g = await group(other, 'reg-alive');
      return g?.alive && g.instances[0]!.lastBeat > 0 ? g : undefined;
    });
    const instance = seen.instances[0]!;
    expect(instance).toMatchObject({
      id: w.id,
      kind: 'worker',
      name: 'reg-alive',
      queue: 'reg-alive',
      pid: process.pid,
      intervalMs: INTERVAL,
      local: false,
    });
    // an unpatched Worker (this test's) names its version itself only from BullMQ 5.25
    expect(instance.bullmqVersion).toBe(bullmqAtLeast('5.25.0') ? BULLMQ_VERSION : '');
    const client = redis.client();
    const [seconds] = await client.time();
    const ttl = await client.pttl(instanceKey('bull', w.id));
    client.disconnect();
    expect(Math.abs(instance.lastBeat - Number(seconds) * 1000)).toBeLessThan(5000);
    expect(ttl).toBeGreaterThan(14 * 60_000); // default retention 15 min
  });

  it('uses the worker name from opts.name, else the queue', async () => {
    const writer = health();
    const w = worker('reg-named', undefined, 'email_queue');
    healthObserver(writer).workerStarted?.(w as unknown as WorkerLike);
    const g = await waitFor(() => group(health(), 'email_queue'));
    expect(g.queue).toBe('reg-named');
  });

  it('close() makes status 0 at once locally and "stopped" in the registry', async () => {
    const writer = health();
    const w = worker('reg-close');
    const observer = healthObserver(writer);
    observer.workerStarted?.(w as unknown as WorkerLike);
    const other = health();
    await waitFor(async () => (await group(other, 'reg-close'))?.alive);
    await w.close();
    observer.workerClosed?.(w as unknown as WorkerLike);
    expect((await group(writer, 'reg-close'))?.alive).toBe(false);
    const stopped = await waitFor(async () => {
      const g = await group(other, 'reg-close');
      return g && !g.alive ? g : undefined;
    });
    expect(stopped.instances[0]!.verdict.state).toBe('stopped');
    expect(stopped.instances[0]!.verdict.reason).toMatch(/stopped cleanly/);
  });

  it('reports a worker whose beats stop as dead within 3 intervals', async () => {
    const writer = health();
    const w = worker('reg-dead');
    healthObserver(writer).workerStarted?.(w as unknown as WorkerLike);
    const other = health();
    await waitFor(async () => (await group(other, 'reg-dead'))?.alive);
    writer.writer.close(); // beats stop as if the process vanished
    const stoppedAt = performance.now();
    const dead = await waitFor(async () => {
      const g = await group(other, 'reg-dead');
      return g && !g.alive ? g : undefined;
    });
    const detectedMs = performance.now() - stoppedAt;
    expect(dead.instances[0]!.verdict.state).toBe('dead');
    expect(dead.instances[0]!.verdict.reason).toMatch(/no heartbeat/);
    expect(detectedMs).toBeLessThanOrEqual(3 * INTERVAL + 250);
  });

  it('marks a worker with a job active longer than JOBWATCH_STUCK_JOB_MS hung, with the reason', async () => {
    const writer = health({ JOBWATCH_STUCK_JOB_MS: '400' });
    const w = worker('reg-stuck');
    const observer = healthObserver(writer);
    observer.workerStarted?.(w as unknown as WorkerLike);
    const job = {
      name: 'j',
      queueName: 'reg-stuck',
      timestamp: Date.now(),
      attemptsMade: 0,
      opts: {},
    };
    observer.attemptStarted?.(w as unknown as WorkerLike, job, Date.now());
    const other = health();
    const hung = await waitFor(async () => {
      const g = await group(other, 'reg-stuck');
      return g && !g.alive && g.instances[0]!.lastBeat > 0 ? g : undefined;
    });
    expect(hung.instances[0]!.verdict.state).toBe('hung');
    expect(hung.instances[0]!.verdict.reason).toMatch(/active for .*JOBWATCH_STUCK_JOB_MS=400/);
    expect(hung.oldestActiveJobAgeMs).toBeGreaterThan(400);
    expect(hung.activeJobs).toBe(1);
    observer.attemptEnded?.(w as unknown as WorkerLike, job, { status: 'completed' }, 1);
    const back = await waitFor(async () => {
      const g = await group(other, 'reg-stuck');
      return g?.alive ? g : undefined;
    });
    expect(back.instances[0]!.processed).toBe(1);
  });

  it('keeps several workers in one process apart, and one live instance keeps a worker at 1', async () => {
    const a = health();
    const b = health();
    const wa = worker('reg-many');
    const wb = worker('reg-many');
    const wc = worker('reg-other');
    healthObserver(a).workerStarted?.(wa as unknown as WorkerLike);
    healthObserver(a).workerStarted?.(wc as unknown as WorkerLike);
    healthObserver(b).workerStarted?.(wb as unknown as WorkerLike);
    const view = health();
    await waitFor(async () => (await group(view, 'reg-many'))?.instances.length === 2);
    b.writer.close(); // one of two instances dies
    await waitFor(async () => {
      const g = await group(view, 'reg-many');
      return g?.instances.some((i) => i.verdict.state === 'dead');
    });
    expect((await group(view, 'reg-many'))?.alive).toBe(true);
    expect((await group(view, 'reg-other'))?.alive).toBe(true);
  });

  it('keeps a dead worker for at least 10 min past detection, even with a 1 min retention', async () => {
    const writer = health({ JOBWATCH_REGISTRY_RETENTION_MS: '60000' });
    const w = worker('reg-short');
    healthObserver(writer).workerStarted?.(w as unknown as WorkerLike);
    await waitFor(async () => (await group(health(), 'reg-short'))?.alive);
    const client = redis.client();
    const ttl = await client.pttl(instanceKey('bull', w.id));
    client.disconnect();
    expect(ttl).toBeGreaterThan(10 * 60_000);
  });

  it('purges entries older than the retention', async () => {
    const client = redis.client();
    const [seconds] = await client.time();
    const longAgo = Number(seconds) * 1000 - 20 * 60_000;
    await client.hset(instanceKey('bull', 'ancient'), {
      id: 'ancient',
      name: 'reg-ancient',
      queue: 'reg-ancient',
      lastBeat: longAgo,
      intervalMs: 5000,
    });
    await client.zadd(beatsKey('bull'), longAgo, 'ancient');
    const view = health();
    const w = worker('reg-purger'); // any beat purges the index
    healthObserver(view).workerStarted?.(w as unknown as WorkerLike);
    await waitFor(async () => (await client.zscore(beatsKey('bull'), 'ancient')) === null);
    expect(await group(view, 'reg-ancient')).toBeUndefined();
    client.disconnect();
  });

  it('watch(): a loop that stops calling beat() goes to 0, stop() to stopped', async () => {
    const h = health();
    setTaskHost({
      defaultIntervalMs: INTERVAL,
      addTask: (t) => h.writer.addTask(t),
      stopTask: (t, reason) => h.writer.stop(t, reason),
    });
    const task = watch('cleanup_loop', { intervalMs: 100 });
    const view = health();
    const timer = setInterval(task.beat, 50);
    await waitFor(async () => (await group(view, 'cleanup_loop'))?.alive);
    clearInterval(timer);
    const hung = await waitFor(async () => {
      const g = await group(view, 'cleanup_loop');
      return g && !g.alive ? g : undefined;
    });
    expect(hung.instances[0]!.verdict.reason).toMatch(/no beat\(\) for/);
    const wrapped = task.wrap(async () => 42);
    expect(await wrapped()).toBe(42);
    // the loop runs again, its iterations wrapped: one beat alone is fresh for only a few
    // intervals, which a loaded machine's writer and view can both miss
    const iterations = setInterval(() => void wrapped(), 50);
    await waitFor(async () => (await group(view, 'cleanup_loop'))?.alive);
    clearInterval(iterations);
    await task.stop();
    const stopped = await waitFor(async () => {
      const g = await group(view, 'cleanup_loop');
      return g?.instances[0]?.verdict.state === 'stopped' ? g : undefined;
    });
    expect(stopped.alive).toBe(false);
    setTaskHost(undefined);
  });
});
