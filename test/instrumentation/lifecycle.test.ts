// The lifecycle hooks metrics and health build on, and stalled jobs on the trace.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AttemptOutcome, LifecycleObserver } from '../../src/lifecycle.js';
import { waitFor } from '../helpers/ports.js';
import { type Harness, named, startHarness } from './harness.js';

let h: Harness;
const events: unknown[][] = [];
const recorder: LifecycleObserver = {
  queueUsed: (user, kind) => events.push(['queueUsed', kind, user.name]),
  workerStarted: (w) => events.push(['workerStarted', w.name]),
  workerClosed: (w) => events.push(['workerClosed', w.name]),
  jobsSent: (queue, name, count) => events.push(['jobsSent', queue, name, count]),
  attemptStarted: (w, job, startedAt) =>
    events.push(['attemptStarted', w.name, job.id, typeof startedAt]),
  attemptEnded: (w, job, outcome: AttemptOutcome, ms) =>
    events.push(['attemptEnded', w.name, job.id, outcome.status, ms >= 0]),
  jobStalled: (w, jobId) => events.push(['jobStalled', w.name, jobId]),
};
const of = (queue: string) => events.filter((e) => e.includes(queue));

beforeAll(async () => {
  h = await startHarness();
  h.observe(recorder);
});
afterAll(() => h?.stop());

describe('lifecycle hooks', () => {
  it('reports queues, workers, sends and attempts in order', async () => {
    const name = h.queueName('life');
    const queue = h.track(new h.bullmq.Queue(name, { connection: h.connection }));
    const worker = new h.bullmq.Worker(name, async () => 'ok', { connection: h.connection });
    const job = await queue.add('a', {});
    await h.waitForSpans(named(`process ${name}`));
    await waitFor(() => of(name).some((e) => e[0] === 'attemptEnded'), { what: 'attemptEnded' });
    await worker.close();
    const seen = of(name);
    // the Queue is announced right after its constructor returns, the Worker when its loop starts
    expect(seen.slice(0, 3)).toEqual(
      expect.arrayContaining([
        ['queueUsed', 'queue', name],
        ['queueUsed', 'worker', name],
        ['workerStarted', name],
      ]),
    );
    // jobsSent follows add()'s reply, which the running worker can beat to the job
    expect(seen.slice(3).filter((e) => e[0] !== 'jobsSent')).toEqual([
      ['attemptStarted', name, job.id, 'number'],
      ['attemptEnded', name, job.id, 'completed', true],
      ['workerClosed', name],
    ]);
    expect(seen.slice(3).filter((e) => e[0] === 'jobsSent')).toEqual([['jobsSent', name, 'a', 1]]);
  });

  it('announces each queue a FlowProducer sends to, once', async () => {
    const a = h.queueName('flow-a');
    const b = h.queueName('flow-b');
    const flows = h.track(new h.bullmq.FlowProducer({ connection: h.connection }));
    await flows.add({ name: 'p', queueName: a, children: [{ name: 'c', queueName: b }] });
    await flows.add({ name: 'p', queueName: a });
    expect(events.filter((e) => e[0] === 'queueUsed' && e[1] === 'flow')).toEqual([
      ['queueUsed', 'flow', a],
      ['queueUsed', 'flow', b],
    ]);
  });

  it('reports a stalled job, and the attempt that recovers it shows the stall on its span', async () => {
    const name = h.queueName('stall');
    const queue = h.track(new h.bullmq.Queue(name, { connection: h.connection }));
    let calls = 0;
    let release: () => void = () => undefined;
    h.track(
      new h.bullmq.Worker(
        name,
        async () => {
          calls += 1;
          // the first attempt hangs without renewing its lock, so the stall checker takes the job back
          if (calls === 1) await new Promise<void>((r) => (release = r));
          return 'ok';
        },
        {
          connection: h.connection,
          concurrency: 2,
          lockDuration: 300,
          stalledInterval: 300,
          skipLockRenewal: true,
          maxStalledCount: 2,
        },
      ),
    );
    const job = await queue.add('slow', {});
    await waitFor(() => events.some((e) => e[0] === 'jobStalled' && e[1] === name), {
      what: 'jobStalled',
    });
    expect(events).toContainEqual(['jobStalled', name, job.id]);
    const recovered = await h.waitForSpans(
      (s) => s.name === `process ${name}` && s.attributes['bullmq.job.outcome'] === 'completed',
    );
    release();
    expect(recovered[0]!.attributes).toMatchObject({
      'bullmq.job.attempt': 1,
      'bullmq.job.attempts_started': 2,
    });
  });
});
