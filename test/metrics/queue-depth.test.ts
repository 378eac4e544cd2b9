// Queue depth against a real Redis and real BullMQ objects, read through the
// real /metrics endpoint. QueueDepth is fed queueUsed() here the way the
// instrumentation feeds it when a Queue or Worker is created.
import { randomUUID } from 'node:crypto';
import { FlowProducer, Queue, Worker } from 'bullmq';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { QUEUE_STATES } from '../../src/backends/backend.js';
import { Backends } from '../../src/backends/router.js';
import type { QueueUserLike } from '../../src/lifecycle.js';
import { QueueDepth } from '../../src/metrics/queue-depth.js';
import { waitFor } from '../helpers/ports.js';
import { RedisServer } from '../helpers/redis.js';
import { type PullEndpoint, pullEndpoint } from './pull.js';
import { type Exposition, find, ownLabels, scrape, value } from './scrape.js';

let redis: RedisServer;
const closers: (() => Promise<unknown>)[] = [];

beforeAll(async () => {
  redis = await RedisServer.start();
});

afterAll(async () => {
  for (const close of closers.reverse()) await close().catch(() => undefined);
  await redis.close();
});

async function endpoint(env: Record<string, string> = {}) {
  const pull = await pullEndpoint(env);
  const backends = Backends.fromConfig(pull.config);
  const depth = new QueueDepth(pull.meter, backends, pull.config);
  closers.push(
    () => pull.close(),
    () => backends.close(),
  );
  return { ...pull, depth };
}

function queue(name: string, opts: Record<string, unknown> = {}): Queue {
  const q = new Queue(name, { connection: redis.connection, ...opts });
  q.on('error', () => undefined); // Redis is stopped on purpose below
  closers.push(() => q.close());
  return q;
}

function depthOf(e: Exposition, queueName: string): Record<string, number | undefined> {
  return Object.fromEntries(
    QUEUE_STATES.map((state) => [
      state,
      value(e, 'bullmq_queue_jobs', {
        messaging_destination_name: queueName,
        bullmq_job_state: state,
      }),
    ]),
  );
}

async function errorsOf(pull: PullEndpoint, queueName: string): Promise<number | undefined> {
  return value(await scrape(pull.url), 'bullmq_queue_collection_errors_total', {
    messaging_destination_name: queueName,
  });
}

describe('bullmq.queue.jobs', () => {
  it('equals Queue.getJobCounts() for every state while jobs sit in each state', async () => {
    const pull = await endpoint({ JOBWATCH_COLLECT_CACHE_MS: '0' });
    const name = `depth-${randomUUID()}`;
    const q = queue(name);
    pull.depth.queueUsed(q as unknown as QueueUserLike);

    // completed, failed and active, taken by hand so nothing else moves
    const worker = new Worker(name, null, { connection: redis.connection, autorun: false });
    worker.on('error', () => undefined);
    // disconnect, not close: BullMQ 5.40's close() calls run() on a Worker without a processor,
    // which rejects with nobody to catch it
    closers.push(() => worker.disconnect());
    await q.addBulk([1, 2, 3].map((i) => ({ name: 'taken', data: { i } })));
    const token = randomUUID();
    const done = (await worker.getNextJob(token))!;
    await done.moveToCompleted('ok', token, false);
    const failed = (await worker.getNextJob(token))!;
    await failed.moveToFailed(new Error('boom'), token, false);
    await worker.getNextJob(token); // stays active
    // waiting, delayed, prioritized, waiting-children
    await q.addBulk([1, 2, 3].map((i) => ({ name: 'waits', data: { i } })));
    await q.add('later', {}, { delay: 60_000 });
    await q.add('later', {}, { delay: 120_000 });
    for (const priority of [1, 2, 3, 4]) await q.add('urgent', {}, { priority });
    const flows = new FlowProducer({ connection: redis.connection });
    flows.on('error', () => undefined);
    closers.push(() => flows.close());
    await flows.add({
      name: 'parent',
      queueName: name,
      children: [{ name: 'child', queueName: `${name}-children` }],
    });

    const counts = await q.getJobCounts();
    const reported = depthOf(await scrape(pull.url), name);
    expect(counts).toMatchObject({
      waiting: 3,
      active: 1,
      completed: 1,
      failed: 1,
      delayed: 2,
      prioritized: 4,
      'waiting-children': 1,
    });
    for (const [state, count] of Object.entries(counts)) expect(reported[state]).toBe(count);
    expect(reported.paused).toBe(counts.paused ?? 0);

    // BullMQ 5 moves waiting jobs to `paused`; 6 keeps them waiting.
    await q.pause();
    const whilePaused = await q.getJobCounts();
    const reportedPaused = depthOf(await scrape(pull.url), name);
    for (const [state, count] of Object.entries(whilePaused)) {
      expect(reportedPaused[state]).toBe(count);
    }
    expect((whilePaused.paused ?? 0) + whilePaused.waiting).toBe(3);
  });

  it('bullmq.queue.oldest_waiting_job.age: how long the job next in line has been ready, 0 while paused', async () => {
    const pull = await endpoint({ JOBWATCH_COLLECT_CACHE_MS: '0' });
    const name = `age-${randomUUID()}`;
    const q = queue(name);
    pull.depth.queueUsed(q as unknown as QueueUserLike);
    const age = async () =>
      value(await scrape(pull.url), 'bullmq_queue_oldest_waiting_job_age_seconds', {
        messaging_destination_name: name,
      });
    await waitFor(async () => (await age()) === 0, { what: 'age 0: nothing waits' });
    // A delayed job is not ready: no age until its delay ends.
    await q.add('later', {}, { delay: 60_000 });
    expect(await age()).toBe(0);
    // A prioritized job is next in line as much as a plain one.
    const added = Date.now();
    await q.add('urgent', {}, { priority: 3 });
    await new Promise((r) => setTimeout(r, 1200));
    await q.add('plain', {});
    const waited = (Date.now() - added) / 1000;
    const seen = (await age())!;
    expect(seen).toBeGreaterThanOrEqual(1.1);
    expect(seen).toBeLessThanOrEqual(waited + 1);
    // Paused by the operator: the jobs wait by choice, not for a worker.
    await q.pause();
    expect(await age()).toBe(0);
    await q.resume();
    expect(await age()).toBeGreaterThanOrEqual(1.1);
  });

  it('is a gauge with one series per (queue, state) and only bounded labels', async () => {
    const pull = await endpoint({ JOBWATCH_COLLECT_CACHE_MS: '0' });
    const name = `labels-${randomUUID()}`;
    const q = queue(name);
    pull.depth.queueUsed(q as unknown as QueueUserLike);
    await q.add('x', {});
    const e = await scrape(pull.url);
    expect(e.types.get('bullmq_queue_jobs')).toBe('gauge');
    expect(e.units.has('bullmq_queue_jobs')).toBe(false); // `{job}` is a count, not a unit
    const series = find(e, 'bullmq_queue_jobs', { messaging_destination_name: name });
    expect(series.map((s) => ownLabels(s))).toEqual(
      QUEUE_STATES.map((state) => ({
        messaging_destination_name: name,
        bullmq_job_state: state,
        jobwatch_registry: `redis://127.0.0.1:${redis.port}/0#bull`,
      })),
    );
    // The oldest waiting job's age, in seconds, from the same read.
    const [age] = find(e, 'bullmq_queue_oldest_waiting_job_age_seconds', {
      messaging_destination_name: name,
    });
    expect(e.types.get('bullmq_queue_oldest_waiting_job_age_seconds')).toBe('gauge');
    expect(age?.value).toBeGreaterThanOrEqual(0);
    expect(age?.value).toBeLessThan(60);
    expect(e.types.get('bullmq_queue_collection_errors_total')).toBe('counter');
    expect(await errorsOf(pull, name)).toBe(0);
  });

  it('watches JOBWATCH_QUEUES under JOBWATCH_QUEUE_PREFIX through JOBWATCH_REDIS_URL', async () => {
    const name = `configured-${randomUUID()}`;
    const pull = await endpoint({
      JOBWATCH_COLLECT_CACHE_MS: '0',
      JOBWATCH_QUEUES: name,
      JOBWATCH_QUEUE_PREFIX: 'elsewhere',
      JOBWATCH_REDIS_URL: redis.url,
    });
    // Added by an object this process does not report on (another app, say).
    const producer = queue(name, { prefix: 'elsewhere' });
    await producer.add('a', {});
    await producer.add('b', {}, { delay: 60_000 });
    const reported = depthOf(await scrape(pull.url), name);
    expect(reported).toMatchObject({ waiting: 1, delayed: 1, active: 0 });
    // The same name under the default prefix is another queue, and empty.
    expect(await queue(name).getJobCounts()).toMatchObject({ waiting: 0, delayed: 0 });
  });

  it('keeps reading a queue after the objects that used it closed, through another connection', async () => {
    const pull = await endpoint({ JOBWATCH_COLLECT_CACHE_MS: '0' });
    const name = `closed-${randomUUID()}`;
    const perRequest = new Queue(name, { connection: redis.connection });
    pull.depth.queueUsed(perRequest as unknown as QueueUserLike);
    const other = queue(`other-${randomUUID()}`);
    pull.depth.queueUsed(other as unknown as QueueUserLike);
    await perRequest.add('x', {});
    expect(depthOf(await scrape(pull.url), name).waiting).toBe(1);
    await perRequest.close();
    await other.add('y', {}); // other work goes on; the closed queue's jobs still count
    await queue(name).add('z', {}); // a Queue object that jobwatch was not told about
    expect(depthOf(await scrape(pull.url), name).waiting).toBe(2);
  });

  it('costs one collection of 8 O(1) commands per queue, shared by scrapes within the cache time', async () => {
    const cached = await endpoint({ JOBWATCH_COLLECT_CACHE_MS: '60000' });
    const uncached = await endpoint({ JOBWATCH_COLLECT_CACHE_MS: '0' });
    const names = [`load-a-${randomUUID()}`, `load-b-${randomUUID()}`];
    for (const name of names) {
      const q = queue(name);
      await q.add('x', {});
      cached.depth.queueUsed(q as unknown as QueueUserLike);
      uncached.depth.queueUsed(q as unknown as QueueUserLike);
    }
    const admin = redis.client();
    admin.on('error', () => undefined); // Redis is stopped on purpose below
    closers.push(() => admin.quit());
    const countReads = async () => {
      const stats = await redis.commandStats();
      return (stats.get('llen') ?? 0) + (stats.get('zcard') ?? 0);
    };

    await admin.config('RESETSTAT');
    const scrapes = 10;
    for (let i = 0; i < scrapes; i++) {
      expect(depthOf(await scrape(cached.url), names[0]!).waiting).toBe(1);
    }
    expect(await countReads()).toBe(8 * names.length); // one collection for all ten scrapes

    await admin.config('RESETSTAT');
    await Promise.all(Array.from({ length: scrapes }, () => scrape(uncached.url)));
    const concurrent = await countReads();
    // Concurrent scrapes share the collection in flight; never more than one each.
    expect(concurrent).toBeLessThanOrEqual(8 * names.length * scrapes);
    expect(concurrent % (8 * names.length)).toBe(0);

    await admin.config('RESETSTAT');
    for (let i = 0; i < scrapes; i++) await scrape(uncached.url);
    expect(await countReads()).toBe(8 * names.length * scrapes);
  });

  it('answers within JOBWATCH_COLLECT_TIMEOUT_MS when Redis is down, with the last values, and counts the errors', async () => {
    const timeoutMs = 300;
    const pull = await endpoint({
      JOBWATCH_COLLECT_CACHE_MS: '0',
      JOBWATCH_COLLECT_TIMEOUT_MS: String(timeoutMs),
    });
    const name = `down-${randomUUID()}`;
    const q = queue(name);
    pull.depth.queueUsed(q as unknown as QueueUserLike);
    await q.addBulk([
      { name: 'x', data: {} },
      { name: 'y', data: {} },
    ]);
    expect(depthOf(await scrape(pull.url), name).waiting).toBe(2);
    expect(await errorsOf(pull, name)).toBe(0);

    await redis.stop();
    try {
      const started = Date.now();
      const during = await scrape(pull.url);
      const elapsed = Date.now() - started;
      expect(elapsed).toBeLessThan(timeoutMs + 1000);
      expect(depthOf(during, name).waiting).toBe(2); // the last known value
      expect(
        value(during, 'bullmq_queue_collection_errors_total', { messaging_destination_name: name }),
      ).toBe(1);
      expect(await errorsOf(pull, name)).toBe(2);
    } finally {
      await redis.resume();
    }
    // The restarted server is empty (no persistence): fresh numbers come back.
    await waitFor(async () => depthOf(await scrape(pull.url), name).waiting === 0, {
      what: 'queue depth after Redis came back',
    });
    const settled = (await errorsOf(pull, name))!;
    await scrape(pull.url);
    expect(await errorsOf(pull, name)).toBe(settled);
  });
});
