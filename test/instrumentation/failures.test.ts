// Failed attempts: every attempt is a span in the job's trace, failures carry
// error.type, the exception and status ERROR, and say whether BullMQ retries.
import { SpanStatusCode } from '@opentelemetry/api';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AttemptOutcome } from '../../src/lifecycle.js';
import { waitFor } from '../helpers/ports.js';
import { type Harness, isChildOf, named, startHarness } from './harness.js';

let h: Harness;
const outcomes = new Map<string, AttemptOutcome[]>();
beforeAll(async () => {
  h = await startHarness();
  h.observe({
    attemptEnded(_worker, job, outcome) {
      const key = `${job.queueName}/${job.id}`;
      outcomes.set(key, [...(outcomes.get(key) ?? []), outcome]);
    },
  });
});
afterAll(() => h?.stop());

const outcomesOf = (job: { queueName: string; id?: string }) =>
  outcomes.get(`${job.queueName}/${job.id}`);

class PaymentDeclined extends Error {}

describe('retries and failures', () => {
  it('puts every attempt of a retried job in one trace, with the attempt number and the retry flag', async () => {
    let calls = 0;
    const { name, queue } = h.queueWithWorker('retry', async () => {
      calls += 1;
      if (calls < 3) throw new PaymentDeclined('card declined');
      return 'paid';
    });
    const job = await queue.add('pay', {}, { attempts: 3, backoff: { type: 'fixed', delay: 50 } });

    const spans = await h.waitForSpans(named(`process ${name}`), 3, 'process spans');
    const [send] = h.spans().filter(named(`send ${name}`));
    const byAttempt = spans.sort(
      (a, b) =>
        Number(a.attributes['bullmq.job.attempt']) - Number(b.attributes['bullmq.job.attempt']),
    );
    expect(byAttempt.map((s) => s.attributes['bullmq.job.attempt'])).toEqual([1, 2, 3]);
    for (const span of byAttempt) expect(isChildOf(span, send!)).toBe(true);

    for (const failed of byAttempt.slice(0, 2)) {
      expect(failed.status.code).toBe(SpanStatusCode.ERROR);
      expect(failed.attributes).toMatchObject({
        'error.type': 'PaymentDeclined',
        'bullmq.job.will_retry': true,
        'bullmq.job.outcome': 'retry',
      });
      const exception = failed.events.find((e) => e.name === 'exception');
      expect(exception?.attributes?.['exception.type']).toBe('PaymentDeclined');
    }
    expect(byAttempt[2]!.status.code).not.toBe(SpanStatusCode.ERROR);
    expect(byAttempt[2]!.attributes['bullmq.job.outcome']).toBe('completed');
    expect(outcomesOf(job)).toEqual([
      { status: 'retry', errorType: 'PaymentDeclined' },
      { status: 'retry', errorType: 'PaymentDeclined' },
      { status: 'completed' },
    ]);
  });

  it('marks the last failed attempt as final', async () => {
    const { name, queue } = h.queueWithWorker('final', async () => {
      throw new TypeError('bad input');
    });
    const job = await queue.add('parse', {}, { attempts: 2 });
    const spans = await h.waitForSpans(named(`process ${name}`), 2, 'process spans');
    const last = spans.find((s) => s.attributes['bullmq.job.attempt'] === 2)!;
    expect(last.status.code).toBe(SpanStatusCode.ERROR);
    expect(last.attributes).toMatchObject({
      'error.type': 'TypeError',
      'bullmq.job.will_retry': false,
      'bullmq.job.outcome': 'failed',
    });
    expect(outcomesOf(job)).toEqual([
      { status: 'retry', errorType: 'TypeError' },
      { status: 'failed', errorType: 'TypeError' },
    ]);
    expect(await job.getState()).toBe('failed');
  });

  it('treats an UnrecoverableError as final on the first attempt', async () => {
    const { name, queue } = h.queueWithWorker('unrecoverable', async () => {
      throw new h.bullmq.UnrecoverableError('gone');
    });
    const job = await queue.add('x', {}, { attempts: 5 });
    const [span] = await h.waitForSpans(named(`process ${name}`));
    expect(span!.attributes).toMatchObject({
      'error.type': 'UnrecoverableError',
      'bullmq.job.will_retry': false,
    });
    expect(outcomesOf(job)).toEqual([{ status: 'failed', errorType: 'UnrecoverableError' }]);
  });

  it.each([
    ['a string', 'boom', 'string'],
    ['an object', { code: 42 }, 'object'],
    ['a number', 7, 'number'],
  ])(
    'reports a processor that throws %s by its typeof, and fails the job once',
    async (_label, thrown, type) => {
      let calls = 0;
      const { name, queue } = h.queueWithWorker('throws', async () => {
        calls += 1;
        throw thrown;
      });
      const job = await queue.add('x', {});
      const [span] = await h.waitForSpans(named(`process ${name}`));
      expect(span!.attributes['error.type']).toBe(type);
      expect(span!.status.code).toBe(SpanStatusCode.ERROR);
      await waitFor(async () => (await job.getState()) === 'failed', { what: 'failed state' });
      expect(calls).toBe(1);
      expect(outcomesOf(job)).toEqual([{ status: 'failed', errorType: type }]);
    },
  );

  it('keeps a job moved to delayed by its processor out of the error statistics', async () => {
    let calls = 0;
    const { name, queue } = h.queueWithWorker('deferred', async (job, token) => {
      calls += 1;
      if (calls === 1) {
        await job.moveToDelayed(Date.now() + 50, token);
        throw new h.bullmq.DelayedError();
      }
      return 'done';
    });
    const job = await queue.add('poll', {});
    const spans = await h.waitForSpans(named(`process ${name}`), 2, 'process spans');
    const [first, second] = spans.sort(
      (a, b) => a.startTime[0] - b.startTime[0] || a.startTime[1] - b.startTime[1],
    );
    expect(first!.attributes['bullmq.job.outcome']).toBe('deferred');
    expect(first!.status.code).not.toBe(SpanStatusCode.ERROR);
    expect(second!.attributes['bullmq.job.outcome']).toBe('completed');
    expect(outcomesOf(job)).toEqual([
      { status: 'retry', errorType: 'DelayedError' },
      { status: 'completed' },
    ]);
  });
});
