// Faults 7 to 10: what happens to the worker process itself. Killed mid-job,
// stopped with SIGTERM mid-job, its event loop blocked, its host's clock
// wrong. Jobs end as BullMQ alone would end them; telemetry tells the truth
// and comes back by itself.
import { describe, expect, it } from 'vitest';
import { MISSED_BEATS_FOR_DEAD } from '../../src/registry/liveness.js';
import { waitFor } from '../helpers/ports.js';
import {
  enqueue,
  expectEachJobOnce,
  INTERVAL_MS,
  lines,
  queueOf,
  registryEntries,
  repeat,
  sampleBecomes,
  sampleOf,
  startApp,
  tracesTo,
  useFaultSetup,
} from './harness.js';

const SKEWED_CLOCK = './test/health/fixtures/clock-skew.cjs';

const setup = useFaultSetup();

const status = (name: string) => ({ bullmq_worker_name: name });
const ms = (t: number) => `${Math.round(t)} ms`;

/** The registry entries of worker `name`. */
const entriesOf = async (name: string) =>
  (await registryEntries(setup.redis)).filter((e) => e.name === name);

/** The process spans the receiver got for queue `name`. */
const processSpansOf = (name: string) =>
  setup.receiver.spans.filter((s) => s.name === `process ${name}`);

describe('fault 7: a worker process killed mid-job', () => {
  it('its jobs stall, another worker finishes them, and the stall shows in metrics and traces', async () => {
    const env = {
      QUEUE: 'killed',
      LOG_STARTED: '1',
      WORKER_OPTS: JSON.stringify({ stalledInterval: 500, lockDuration: 1000 }),
      ...tracesTo(setup.receiver.url),
    };
    const doomed = await startApp(setup.redis.url, { ...env, HANG: '1' });
    const queue = queueOf(setup.redis, 'killed');
    const ids = await enqueue(queue, repeat(5, { name: 'sleep', data: { ms: 100 } }));
    await waitFor(() => lines(doomed.proc, 'started').length === ids.length, {
      what: 'all active',
    });
    const rescuer = await startApp(setup.redis.url, env);
    doomed.proc.child.kill('SIGKILL');
    const killedAt = performance.now();

    await expectEachJobOnce(queue, ids, [doomed.proc, rescuer.proc]);
    const recoveredMs = performance.now() - killedAt;
    expect(lines(doomed.proc, 'processed')).toEqual([]);
    const stalled = { messaging_destination_name: 'killed', bullmq_worker_name: 'killed' };
    await sampleBecomes(rescuer, 'bullmq_job_stalled_total', stalled, ids.length);
    // Each job's recovering attempt says it is not the first start.
    const spans = await waitFor(
      () => {
        const found = processSpansOf('killed').filter(
          (s) => s.attributes['bullmq.job.attempts_started'] === 2,
        );
        return found.length === ids.length ? found : undefined;
      },
      { what: 'the recovering attempts’ spans' },
    );
    expect(spans.map((s) => s.attributes['bullmq.job.attempt'])).toEqual(Array(ids.length).fill(1));
    expect(await sampleOf(rescuer, 'worker_status', status('killed'))).toBe(1);
    console.log(
      `fault 7: ${ids.length}/${ids.length} jobs of the killed worker stalled and completed once on the other ` +
        `${ms(recoveredMs)} after the kill; bullmq_job_stalled_total ${ids.length}; spans show attempts_started 2`,
    );
  });
});

describe('fault 8: SIGTERM while jobs are active (the app closes its worker)', () => {
  it('active jobs finish, their spans are flushed, the process exits 0 and status goes to 0', async () => {
    const view = await startApp(setup.redis.url, { QUEUE: 'term', ROLE: 'view' });
    const worker = await startApp(setup.redis.url, {
      QUEUE: 'term',
      LOG_STARTED: '1',
      APP_SIGTERM: '1',
      ...tracesTo(setup.receiver.url),
      OTEL_BSP_SCHEDULE_DELAY: '60000', // only the close can get these spans out in time
    });
    await sampleBecomes(view, 'worker_status', status('term'), 1);
    const queue = queueOf(setup.redis, 'term');
    const ids = await enqueue(queue, repeat(5, { name: 'sleep', data: { ms: 1000 } }));
    await waitFor(() => lines(worker.proc, 'started').length === ids.length, {
      what: 'all active',
    });

    const termAt = performance.now();
    const stopping = worker.proc.stop('SIGTERM');
    const statusMs = await sampleBecomes(view, 'worker_status', status('term'), 0);
    const exit = await stopping;
    const exitMs = performance.now() - termAt;
    expect(exit).toEqual({ code: 0, signal: null });
    await expectEachJobOnce(queue, ids, [worker.proc]);
    const flushed = processSpansOf('term').map((s) => s.attributes['messaging.message.id']);
    console.log(
      `fault 8: ${ids.length}/${ids.length} active jobs completed during the close; exit 0 ${ms(exitMs)} after SIGTERM; ` +
        `worker_status 0 on another process ${ms(statusMs)} after SIGTERM; ${flushed.length}/${ids.length} process spans flushed`,
    );
    expect(new Set(flushed)).toEqual(new Set(ids));
    expect(await entriesOf('term')).toMatchObject([{ status: 'stopped' }]);
  });
});

describe('fault 9: the event loop blocked for more than 3 heartbeat intervals', () => {
  it('is reported down while blocked and up again after, and no job is lost', async () => {
    const view = await startApp(setup.redis.url, { QUEUE: 'blocked', ROLE: 'view' });
    const worker = await startApp(setup.redis.url, { QUEUE: 'blocked', LOG_STARTED: '1' });
    await sampleBecomes(view, 'worker_status', status('blocked'), 1);
    const queue = queueOf(setup.redis, 'blocked');
    const before = await enqueue(queue, repeat(20, { name: 'sleep', data: { ms: 100 } }));
    // 3.5 intervals: the silence is then surely over 3 intervals, whenever the last beat was.
    const [block] = await enqueue(queue, [{ name: 'block', data: { ms: 3.5 * INTERVAL_MS } }]);
    const after = await enqueue(queue, repeat(20, { name: 'sleep', data: { ms: 100 } }));
    await waitFor(() => lines(worker.proc, 'started').includes(block!), { what: 'the block' });
    const downMs = await sampleBecomes(view, 'worker_status', status('blocked'), 0, 5000);
    const upMs = await sampleBecomes(view, 'worker_status', status('blocked'), 1, 5000);
    await expectEachJobOnce(queue, [...before, block!, ...after], [worker.proc]);
    const [entry] = await entriesOf('blocked');
    expect(entry!.reason).toMatch(/event loop was blocked for \d/);
    console.log(
      `fault 9: loop blocked ${3.5 * INTERVAL_MS} ms (interval ${INTERVAL_MS} ms): worker_status 0 on another process ` +
        `${ms(downMs)} after the block began, 1 again ${ms(upMs)} later; ${before.length + after.length + 1} jobs completed once`,
    );
  });
});

describe('fault 9b: SIGTERM while the event loop is blocked', () => {
  /** Starts a worker, blocks its loop in a job for `blockMs`, and sends SIGTERM once it began. */
  async function blockedThenTerm(queueName: string, blockMs: number, preload: boolean) {
    const app = await startApp(
      setup.redis.url,
      { QUEUE: queueName, LOG_STARTED: '1' },
      { preload },
    );
    const [job] = await enqueue(queueOf(setup.redis, queueName), [
      { name: 'block', data: { ms: blockMs } },
    ]);
    await waitFor(() => lines(app.proc, 'started').includes(job!), { what: 'the block' });
    const sentAt = performance.now();
    app.proc.child.kill('SIGTERM');
    return { app, sentAt };
  }

  it('a loop that turns again: the process dies of SIGTERM once it does, after a bounded flush', async () => {
    const plain = await blockedThenTerm('term-plain', 3000, false);
    expect((await plain.app.proc.exited).signal).toBe('SIGTERM');
    const plainMs = performance.now() - plain.sentAt;
    const watched = await blockedThenTerm('term-watched', 3000, true);
    expect((await watched.app.proc.exited).signal).toBe('SIGTERM');
    const watchedMs = performance.now() - watched.sentAt;
    console.log(
      `fault 9b: SIGTERM during a 3 s block: without jobwatch dead in ${ms(plainMs)}, with it in ${ms(watchedMs)} (when the loop turns, then the flush)`,
    );
    expect(plainMs).toBeLessThan(1000); // the kernel's default action, no JavaScript involved
    expect(watchedMs).toBeLessThan(3000 + 5000); // the rest of the block, then at most the flush bound
  }, 30_000);

  it('a loop that never turns: only SIGKILL ends it (the documented limit), and it is reported down meanwhile', async () => {
    const view = await startApp(setup.redis.url, { QUEUE: 'term-forever', ROLE: 'view' });
    const { app } = await blockedThenTerm('term-forever', 600_000, true);
    const downMs = await sampleBecomes(view, 'worker_status', status('term-forever'), 0, 10_000);
    expect(app.proc.running).toBe(true); // SIGTERM is handled in JavaScript, which never runs again
    app.proc.child.kill('SIGKILL');
    expect((await app.proc.exited).signal).toBe('SIGKILL');
    console.log(
      `fault 9b: a loop that never turns ignores SIGTERM (as any Node app with a SIGTERM listener does); reported 0 ${ms(downMs)} after the signal; SIGKILL ends it`,
    );
  }, 30_000);
});

describe('fault 10: hosts whose clocks are 5 minutes off', () => {
  it('a view 5 min behind sees a dead worker die and a live one 5 min ahead live', async () => {
    const skewed = (offset: number) => ({ CLOCK_OFFSET_MS: String(offset) });
    const requires = [SKEWED_CLOCK];
    const view = await startApp(
      setup.redis.url,
      { QUEUE: 'skew-live', ROLE: 'view', ...skewed(-300_000) },
      { requires },
    );
    const live = await startApp(
      setup.redis.url,
      { QUEUE: 'skew-live', ...skewed(300_000) },
      { requires },
    );
    const doomed = await startApp(setup.redis.url, { QUEUE: 'skew-dead' });
    await sampleBecomes(view, 'worker_status', status('skew-live'), 1);
    await sampleBecomes(view, 'worker_status', status('skew-dead'), 1);
    const queue = queueOf(setup.redis, 'skew-live');
    const ids = await enqueue(queue, repeat(50, { name: 'sleep', data: { ms: 20 } }));
    await expectEachJobOnce(queue, ids, [live.proc]);
    await new Promise((r) => setTimeout(r, MISSED_BEATS_FOR_DEAD * INTERVAL_MS * 2));
    expect(await sampleOf(view, 'worker_status', status('skew-live'))).toBe(1);

    doomed.proc.child.kill('SIGKILL');
    // 3 missed beats and one collection, with room for a loaded machine: a
    // host clock 5 min off would be minutes early or late, never within this
    const boundMs = (MISSED_BEATS_FOR_DEAD + 1) * INTERVAL_MS + 2000;
    const deadMs = await sampleBecomes(
      view,
      'worker_status',
      status('skew-dead'),
      0,
      boundMs + 5000,
    );
    expect(deadMs).toBeLessThanOrEqual(boundMs);
    expect(await sampleOf(view, 'worker_status', status('skew-live'))).toBe(1);
    console.log(
      `fault 10: view 5 min behind, worker 5 min ahead: live worker stays 1, ${ids.length}/${ids.length} jobs completed once; ` +
        `a killed worker reported 0 ${ms(deadMs)} after the kill (3 intervals = ${MISSED_BEATS_FOR_DEAD * INTERVAL_MS} ms)`,
    );
  });
});
