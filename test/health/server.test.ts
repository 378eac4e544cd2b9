// The health endpoints in this process, with a real Redis and a real Worker:
// token protection, request limits, and what each endpoint answers.
import { connect } from 'node:net';
import { createNoopMeter } from '@opentelemetry/api';
import { Queue, Worker } from 'bullmq';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config.js';
import { createHealth, type Health, healthObserver } from '../../src/health/index.js';
import type { QueueUserLike, WorkerLike } from '../../src/lifecycle.js';
import { QueueDepth } from '../../src/metrics/queue-depth.js';
import { bearerMatches, startHealthServer } from '../../src/server/health-server.js';
import { freePort, waitFor } from '../helpers/ports.js';
import { RedisServer } from '../helpers/redis.js';

const TOKEN = 's3cret-token';
let redis: RedisServer;
let health: Health;
let base: string;
let worker: Worker;
let queue: Queue;
let stopServer: () => Promise<void>;

beforeAll(async () => {
  redis = await RedisServer.start();
  const port = await freePort();
  const { config } = parseConfig({
    JOBWATCH_HEARTBEAT_INTERVAL_MS: '200',
    JOBWATCH_HEALTH_PORT: String(port),
    JOBWATCH_HEALTH_TOKEN: TOKEN,
    JOBWATCH_COLLECT_CACHE_MS: '0',
  });
  health = createHealth(config);
  health.writer.start();
  health.view.start(); // the only process: it holds the fleet-view lease
  const depth = new QueueDepth(createNoopMeter(), health.backends, config);
  const server = startHealthServer(config, {
    health,
    queueCounts: () => depth.counts(),
    readiness: (timeoutMs) => health.backends.readiness(timeoutMs),
  });
  stopServer = () => server.close();
  expect(await server.listening).toBe(port);
  base = `http://127.0.0.1:${port}`;
  queue = new Queue('secret-queue-name', { connection: redis.connection });
  worker = new Worker('secret-queue-name', async () => 'ok', { connection: redis.connection });
  const observer = healthObserver(health);
  observer.queueUsed?.(queue as unknown as QueueUserLike, 'queue');
  depth.queueUsed(queue as unknown as QueueUserLike);
  observer.workerStarted?.(worker as unknown as WorkerLike);
  await queue.add('a', {});
  await queue.add('b', {}, { delay: 60_000 });
});

afterAll(async () => {
  await stopServer();
  await health.stop('test over');
  await worker.close(true); // no graceful wait: nothing is running, and a reconnecting client may not answer
  await queue.close();
  await redis.close();
});

const get = (path: string, headers: Record<string, string> = {}) => fetch(base + path, { headers });

describe('health endpoints', () => {
  it('/health/queues: 401 without or with a wrong token, and nothing leaks', async () => {
    const attempts: Record<string, string>[] = [
      {},
      { authorization: 'Bearer wrong' },
      { authorization: TOKEN },
    ];
    for (const headers of attempts) {
      const res = await get('/health/queues', headers);
      expect(res.status).toBe(401);
      expect(res.headers.get('www-authenticate')).toBe('Bearer');
      expect(await res.text()).not.toContain('secret-queue-name');
    }
  });

  it('/health/queues: 200 with the right token, with queues and workers', async () => {
    const body = await waitFor(async () => {
      const res = await get('/health/queues', { authorization: `Bearer ${TOKEN}` });
      const json = (await res.json()) as any;
      return res.status === 200 && json.queues['secret-queue-name'] ? json : undefined;
    });
    expect(body).toMatchObject({
      status: 'healthy',
      queues: { 'secret-queue-name': { delayed: 1 } },
      workers: {
        'secret-queue-name': { alive: true, status: 1, state: 'running', pid: process.pid },
      },
    });
    // It names the registry it read, and that the read answered.
    expect(body.stores).toEqual([
      expect.objectContaining({
        registry: expect.stringMatching(/^redis:\/\/127\.0\.0\.1:\d+\/0#bull$/),
        ok: true,
      }),
    ]);
    expect(body.workers['secret-queue-name'].registry).toBe(body.stores[0].registry);
    expect(Date.parse(body.timestamp)).not.toBeNaN();
    expect(body.workers['secret-queue-name'].lastSeen).toMatch(/^\d{4}-/);
  });

  it('compares tokens in constant time over equal-length digests (any length, no throw)', () => {
    expect(bearerMatches(`Bearer ${TOKEN}`, TOKEN)).toBe(true);
    expect(bearerMatches(`bearer ${TOKEN}`, TOKEN)).toBe(true);
    expect(bearerMatches('Bearer x', TOKEN)).toBe(false);
    expect(bearerMatches(`Bearer ${TOKEN}${'x'.repeat(5000)}`, TOKEN)).toBe(false);
    expect(bearerMatches('Bearer ', TOKEN)).toBe(false);
    expect(bearerMatches(undefined, TOKEN)).toBe(false);
    expect(bearerMatches(TOKEN, TOKEN)).toBe(false);
  });

  it('/health/live and /health/ready answer 200 with Redis up; other paths 404, other methods 405', async () => {
    expect((await get('/health/live')).status).toBe(200);
    const ready = await get('/health/ready');
    expect(ready.status).toBe(200);
    expect(await ready.json()).toMatchObject({ status: 'ready', connections: 1, errors: [] });
    expect((await get('/metrics')).status).toBe(404);
    expect((await fetch(`${base}/health/live`, { method: 'POST', body: 'x' })).status).toBe(405);
  });

  it('refuses oversized headers (431) and drops a client that never finishes its headers', async () => {
    const big = await get('/health/live', { 'x-big': 'a'.repeat(20_000) });
    expect(big.status).toBe(431);
    const socket = connect(new URL(base).port as unknown as number, '127.0.0.1');
    socket.write('GET /health/live HTTP/1.1\r\nHost: x\r\n'); // and then nothing
    const closedAfter = await new Promise<number>((resolve) => {
      const t0 = performance.now();
      socket.on('close', () => resolve(performance.now() - t0));
      socket.on('error', () => undefined);
      socket.resume();
    });
    expect(closedAfter).toBeLessThan(15_000);
  }, 20_000);

  it('/health/ready is 503 while Redis is down, and 200 again after', async () => {
    await redis.stop();
    try {
      const down = await get('/health/ready');
      expect(down.status).toBe(503);
      const queues = await get('/health/queues', { authorization: `Bearer ${TOKEN}` });
      expect(queues.status).toBe(503);
      // Every time, with the reason (not 200 one time and a bare 503 the next).
      const report = (await queues.json()) as any;
      expect(report.status).toBe('unknown');
      expect(report.reason).toMatch(/redis:\/\/127\.0\.0\.1:\d+\/0#bull|out of reach/);
      for (let i = 0; i < 5; i++) {
        const again = await get('/health/queues', { authorization: `Bearer ${TOKEN}` });
        expect(again.status).toBe(503);
        expect(((await again.json()) as any).reason).toBeTruthy();
      }
    } finally {
      await redis.resume();
    }
    await waitFor(async () => (await get('/health/ready')).status === 200, { timeoutMs: 15_000 });
    // BullMQ's own clients are back too (the restart wiped the data): a new job runs.
    await queue.add('after-outage', {});
    await waitFor(async () => (await queue.getJobCounts('completed')).completed > 0, {
      timeoutMs: 20_000,
      what: 'a job after the outage',
    });
  }, 45_000);
});
