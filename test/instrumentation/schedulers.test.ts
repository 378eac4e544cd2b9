// Jobs that repeat: each run starts its own trace and links to the span that
// scheduled it (processParent 'auto'); the modes 'parent' and 'link' force one way.
import { context, trace } from '@opentelemetry/api';
import type { ReadableSpan } from '@opentelemetry/sdk-trace';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { bullmqAtLeast } from '../helpers/bullmq-majors.js';
import { BULLMQ_MAJOR, type Harness, isChildOf, named, startHarness } from './harness.js';

let h: Harness;
beforeAll(async () => {
  h = await startHarness();
});
afterEach(() => h.instrumentation.setConfig({}));
afterAll(() => h?.stop());

/** Queue.upsertJobScheduler came with 5.16.0. */
const itSchedulers = it.skipIf(!bullmqAtLeast('5.16.0'));

function linksTo(span: ReadableSpan, target: ReadableSpan): boolean {
  return span.links.some((l) => l.context.spanId === target.spanContext().spanId);
}

function expectLinkedRoot(span: ReadableSpan, send: ReadableSpan): void {
  expect(span.parentSpanContext).toBeUndefined();
  expect(span.spanContext().traceId).not.toBe(send.spanContext().traceId);
  expect(linksTo(span, send)).toBe(true);
}

describe('job schedulers', () => {
  itSchedulers('starts a new trace per run, linked to the upsertJobScheduler span', async () => {
    const name = h.queueName('scheduled');
    const queue = h.track(new h.bullmq.Queue(name, { connection: h.connection }));
    const request = h.tracer.startSpan('deploy');
    await context.with(trace.setSpan(context.active(), request), () =>
      queue.upsertJobScheduler('every-200ms', { every: 200 }, { name: 'tick', data: { x: 1 } }),
    );
    request.end();
    h.track(new h.bullmq.Worker(name, async () => 'ok', { connection: h.connection }));

    const runs = await h.waitForSpans(named(`process ${name}`), 2, 'scheduled runs');
    await queue.removeJobScheduler('every-200ms');
    const [send] = h.spans().filter(named(`send ${name}`));
    expect(send!.attributes['bullmq.job.scheduler_id']).toBe('every-200ms');
    expect(send!.attributes['bullmq.job.name']).toBe('tick');
    for (const run of runs) expectLinkedRoot(run, send!);
    expect(new Set(runs.map((r) => r.spanContext().traceId)).size).toBe(runs.length);
  });

  it.skipIf(BULLMQ_MAJOR !== 5)(
    'links runs of a legacy repeat job (BullMQ 5 only: 6 removed legacy repeat)',
    async () => {
      const name = h.queueName('repeat');
      const queue = h.track(new h.bullmq.Queue(name, { connection: h.connection }));
      // BullMQ 6's types no longer have `repeat`
      await queue.add('tick', {}, { repeat: { every: 200 } } as object);
      h.track(new h.bullmq.Worker(name, async () => 'ok', { connection: h.connection }));
      const runs = await h.waitForSpans(named(`process ${name}`), 2, 'repeat runs');
      const [send] = h.spans().filter(named(`send ${name}`));
      for (const run of runs) expectLinkedRoot(run, send!);
      await queue.obliterate({ force: true });
    },
  );
});

describe('processParent', () => {
  it("'link' makes even a one-off job a new trace linked to its send span", async () => {
    h.instrumentation.setConfig({ processParent: 'link' });
    const { name, queue } = h.queueWithWorker('link');
    await queue.add('once', {});
    const [run] = await h.waitForSpans(named(`process ${name}`));
    expectLinkedRoot(run!, h.spans().find(named(`send ${name}`))!);
  });

  itSchedulers("'parent' makes scheduler runs children of the scheduling span", async () => {
    h.instrumentation.setConfig({ processParent: 'parent' });
    const name = h.queueName('parent');
    const queue = h.track(new h.bullmq.Queue(name, { connection: h.connection }));
    await queue.upsertJobScheduler('s', { every: 200 }, { name: 'tick' });
    h.track(new h.bullmq.Worker(name, async () => 'ok', { connection: h.connection }));
    const runs = await h.waitForSpans(named(`process ${name}`), 2, 'scheduled runs');
    await queue.removeJobScheduler('s');
    const send = h.spans().find(named(`send ${name}`))!;
    for (const run of runs) {
      expect(isChildOf(run, send)).toBe(true);
      expect(run.links).toHaveLength(0);
    }
  });
});

describe('chains of jobs', () => {
  it('cuts a chain of processors enqueueing jobs into linked traces after maxChainDepth', async () => {
    h.instrumentation.setConfig({ maxChainDepth: 3 });
    let queue: import('bullmq').Queue | undefined;
    const chain = h.queueWithWorker('chain', async (job) => {
      const n = (job.data as { n: number }).n;
      if (n < 5) await queue!.add('next', { n: n + 1 });
      return n;
    });
    queue = chain.queue;
    await queue.add('next', { n: 1 });
    const spans = await h.waitForSpans(named(`process ${chain.name}`), 5, 'chain of 5');
    const byId = (id: string) => spans.find((s) => s.attributes['messaging.message.id'] === id)!;
    const sendOf = (id: string) =>
      h
        .spans()
        .find(
          (s) => s.name === `send ${chain.name}` && s.attributes['messaging.message.id'] === id,
        )!;
    const first = byId('1').spanContext().traceId;
    expect(['2', '3'].map((id) => byId(id).spanContext().traceId)).toEqual([first, first]);
    for (const id of ['1', '2', '3', '5']) expect(isChildOf(byId(id), sendOf(id))).toBe(true);
    expectLinkedRoot(byId('4'), sendOf('4'));
    expect(byId('5').spanContext().traceId).toBe(byId('4').spanContext().traceId);
  });
});
