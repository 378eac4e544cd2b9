// Faults 1 and 2: Redis goes away under a preloaded app, or is not there when
// it starts. Jobs end exactly as BullMQ alone would end them, the app never
// stops, and heartbeats, worker_status and queue depth come back by themselves.
import { describe, expect, it } from 'vitest';
import { waitFor } from '../helpers/ports.js';
import { RedisServer } from '../helpers/redis.js';
import {
  closeQueues,
  enqueue,
  expectEachJobOnce,
  expectNoRepeatedWarnings,
  lines,
  metricsOf,
  queueOf,
  registryEntries,
  repeat,
  restartRedis,
  sampleBecomes,
  sampleOf,
  startApp,
  useFaultSetup,
} from './harness.js';

const setup = useFaultSetup();

const ms = (t: number) => `${Math.round(t)} ms`;

/** Redis TIME in ms, the clock the registry's lastBeat is written with. */
async function redisNow(server: RedisServer): Promise<number> {
  const client = server.client();
  try {
    const [s, us] = await client.time();
    return Number(s) * 1000 + Math.floor(Number(us) / 1000);
  } finally {
    client.disconnect();
  }
}

/** Resolves once a worker named `name` has written a heartbeat after Redis time `after`. */
function beatAfter(server: RedisServer, name: string, after: number) {
  return waitFor(
    async () =>
      (await registryEntries(server)).some((e) => e.name === name && Number(e.lastBeat) > after),
    { what: `a heartbeat of ${name} after ${after}`, timeoutMs: 15_000, intervalMs: 25 },
  );
}

describe('fault 1: Redis restarted with jobs in flight', () => {
  it('finishes every job once, and heartbeats, worker_status and queue depth recover', async () => {
    // A job whose move to completed was cut off by the restart stays active
    // until BullMQ's stall check hands it out again (BullMQ 5 and 6 alike,
    // with or without jobwatch): a short lock makes that seconds, not a minute.
    const worker = await startApp(setup.redis.url, {
      QUEUE: 'restart',
      CONCURRENCY: '20',
      LOG_STARTED: '1',
      WORKER_OPTS: JSON.stringify({ lockDuration: 2000, stalledInterval: 1000 }),
      JOBWATCH_REGISTRY_VIEW: 'false', // the view below holds the fleet view, before and after the restart
    });
    const view = await startApp(setup.redis.url, { QUEUE: 'restart', ROLE: 'view' });
    const status = { bullmq_worker_name: 'restart' };
    await sampleBecomes(view, 'worker_status', status, 1);
    const queue = queueOf(setup.redis, 'restart');
    const ids = await enqueue(queue, repeat(400, { name: 'sleep', data: { ms: 50 } }));
    await waitFor(() => lines(worker.proc, 'processed').length >= 60, { what: '60 jobs' });

    let scrapedWhileDown: number | undefined;
    const unfinished = ids.length - lines(worker.proc, 'processed').length;
    const upAt = await restartRedis(setup.redis, 1500, async () => {
      await new Promise((r) => setTimeout(r, 500));
      // /metrics keeps answering (bounded by the collect timeout) while Redis is away
      const e = await metricsOf(worker);
      scrapedWhileDown = e.samples.length;
    });
    const startedBeforeUp = lines(worker.proc, 'started').length;
    const restartedAt = await redisNow(setup.redis);
    expect(scrapedWhileDown).toBeGreaterThan(0);

    await beatAfter(setup.redis, 'restart', restartedAt);
    const beatMs = performance.now() - upAt;
    const statusMs = await sampleBecomes(view, 'worker_status', status, 1);
    // Only jobs that were active across the outage may run again.
    const activeAcrossOutage = lines(worker.proc, 'started').slice(0, startedBeforeUp);
    await expectEachJobOnce(queue, ids, [worker.proc], { mayRepeat: activeAcrossOutage });
    const depth = { messaging_destination_name: 'restart', bullmq_job_state: 'completed' };
    await sampleBecomes(worker, 'bullmq_queue_jobs', depth, ids.length);
    await sampleBecomes(view, 'bullmq_queue_jobs', depth, ids.length);
    const depthMs = performance.now() - upAt;
    const errors = await sampleOf(worker, 'bullmq_queue_collection_errors_total', {
      messaging_destination_name: 'restart',
    });
    console.log(
      `fault 1: ${ids.length}/${ids.length} jobs completed once (${unfinished} not yet done at the restart); after Redis came back: heartbeat in ${ms(beatMs)}, ` +
        `worker_status 1 on the view ${ms(beatMs + statusMs)}, queue depth right in ${ms(depthMs)} (all jobs done); ` +
        `collection errors counted during the outage: ${errors}`,
    );
    expect(errors).toBeGreaterThan(0);
    expect(worker.proc.running && view.proc.running).toBe(true);
    expectNoRepeatedWarnings(worker.proc);
    expectNoRepeatedWarnings(view.proc);
  });
});

describe('fault 2: Redis unreachable when the app starts', () => {
  it('lets the app start at once, then works and reports as soon as Redis is there', async () => {
    const late = await RedisServer.start();
    try {
      await late.stop();
      const worker = await startApp(late.url, { QUEUE: 'late' }, { ready: false });
      // The app's own start ran to its end and /metrics answers, with Redis still down.
      await waitFor(() => lines(worker.proc, 'app started').length > 0, { what: 'app start' });
      await waitFor(async () => (await metricsOf(worker)).samples.length > 0, {
        what: '/metrics with Redis down',
      });
      await new Promise((r) => setTimeout(r, 1500));
      expect(worker.proc.running).toBe(true);

      await late.resume();
      const upAt = performance.now();
      await waitFor(() => lines(worker.proc, 'ready').length > 0, { what: 'the worker ready' });
      await sampleBecomes(worker, 'worker_status', { bullmq_worker_name: 'late' }, 1);
      const statusMs = performance.now() - upAt;
      const queue = queueOf(late, 'late');
      const ids = await enqueue(queue, repeat(50, { name: 'work' }));
      await expectEachJobOnce(queue, ids, [worker.proc]);
      expect((await registryEntries(late)).map((e) => e.name)).toEqual(['late']);
      console.log(
        `fault 2: app started with Redis down; ${ids.length}/${ids.length} jobs completed once after it came up; ` +
          `worker_status 1 ${ms(statusMs)} after Redis came up`,
      );
      expectNoRepeatedWarnings(worker.proc);
    } finally {
      await closeQueues();
      await late.close();
    }
  });
});
