// jobwatch never breaks the host: bad trace headers, odd job data and
// jobwatch's own failures leave every job processed exactly once, with the
// data it was enqueued with.
import { trace } from '@opentelemetry/api';
import type { DefaultJobOptions } from 'bullmq';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { waitFor } from '../helpers/ports.js';
import { type Harness, named, startHarness } from './harness.js';

let h: Harness;
beforeAll(async () => {
  h = await startHarness();
});
afterAll(() => h?.stop());

/** A queue and a worker that records what its processor saw. */
function queueWithWorker(label: string) {
  const seen: { id: string | undefined; data: unknown; opts: unknown }[] = [];
  const { name, queue } = h.queueWithWorker(label, async (job) => {
    seen.push({ id: job.id, data: job.data, opts: job.opts });
    return 'ok';
  });
  return { name, queue, seen };
}

describe('bad trace headers in a job', () => {
  const validParent = '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01';
  it.each([
    ['not JSON', 'garbage{'],
    ['a malformed traceparent', JSON.stringify({ traceparent: '00-zz-yy-01' })],
    ['a foreign format', JSON.stringify({ 'uber-trace-id': 'abc:def:0:1', 'x-b3-traceid': '1' })],
    ['a JSON array', JSON.stringify([validParent])],
    ['JSON null', 'null'],
    ['oversized metadata', JSON.stringify({ traceparent: validParent, pad: 'x'.repeat(20_000) })],
    ['a number instead of a string', 42],
    ['an object instead of a string', { traceparent: validParent }],
  ])('processes a job whose metadata is %s, as a new root span', async (_label, metadata) => {
    const { name, queue, seen } = queueWithWorker('bad-header');
    const job = await queue.add('x', { ok: true }, { telemetry: { metadata: metadata as string } });
    const [span] = await h.waitForSpans(named(`process ${name}`));
    expect(span!.parentSpanContext).toBeUndefined();
    expect(span!.links).toHaveLength(0);
    expect(span!.attributes['bullmq.job.outcome']).toBe('completed');
    expect(seen.map((s) => s.id)).toEqual([job.id]);
    expect(seen[0]!.data).toEqual({ ok: true });
  });

  it('keeps metadata the producer set itself instead of writing its own', async () => {
    const { name, queue, seen } = queueWithWorker('own-metadata');
    const own = JSON.stringify({ traceparent: validParent });
    await queue.add('x', {}, { telemetry: { metadata: own } });
    const [span] = await h.waitForSpans(named(`process ${name}`));
    expect((seen[0]!.opts as { telemetry?: { metadata?: string } }).telemetry?.metadata).toBe(own);
    expect(span!.spanContext().traceId).toBe('0af7651916cd43dd8448eb211c80319c');
    expect(span!.parentSpanContext?.spanId).toBe('b7ad6b7169203331');
  });

  it('writes no context when the producer asks for omitContext', async () => {
    const { name, queue, seen } = queueWithWorker('omit');
    await queue.add('x', {}, { telemetry: { omitContext: true } });
    const [span] = await h.waitForSpans(named(`process ${name}`));
    expect(
      (seen[0]!.opts as { telemetry?: { metadata?: string } }).telemetry?.metadata,
    ).toBeUndefined();
    expect(span!.parentSpanContext).toBeUndefined();
  });
});

describe('job data', () => {
  it.each([
    ['a string', 'hello'],
    ['a number', 12.5],
    ['an array', [1, 'two', { three: 3 }]],
    ['null', null],
    ['a nested object', { order: { id: 7, lines: [{ sku: 'a' }] } }],
  ])('hands the processor exactly the data it was given: %s', async (_label, data) => {
    const { name, queue, seen } = queueWithWorker('data');
    const opts = { attempts: 2 };
    const optsBefore = structuredClone(opts);
    await queue.add('x', data, opts);
    await h.waitForSpans(named(`process ${name}`));
    expect(seen).toHaveLength(1);
    expect(seen[0]!.data).toEqual(data);
    expect(opts).toEqual(optsBefore); // the caller's options object is not mutated
  });
});

describe('internal errors', () => {
  it('processes every job exactly once when an observer throws on every hook', async () => {
    const throwing = () => {
      throw new Error('observer bug');
    };
    const observer = {
      queueUsed: throwing,
      workerStarted: throwing,
      jobsSent: throwing,
      attemptStarted: throwing,
      attemptEnded: throwing,
      workerClosed: throwing,
    };
    h.observe(observer);
    try {
      const { name, queue, seen } = queueWithWorker('observer-bug');
      const jobs = await queue.addBulk([1, 2, 3].map((n) => ({ name: 'x', data: { n } })));
      await queue.add('y', { n: 4 });
      await waitFor(async () => (await queue.getJobCounts('completed')).completed === 4, {
        what: '4 completed jobs',
      });
      expect(seen.map((s) => s.id).sort()).toEqual(
        [...jobs.map((j) => j.id), String(jobs.length + 1)].sort(),
      );
      expect(await queue.getJobCounts('failed', 'wait', 'active')).toEqual({
        failed: 0,
        wait: 0,
        active: 0,
      });
      const spans = await h.waitForSpans(named(`process ${name}`), 4);
      expect(spans).toHaveLength(4);
    } finally {
      h.instrumentation.removeObserver(observer);
    }
  });
});

describe('a broken tracer', () => {
  it('adds and processes every job exactly once when span creation throws', async () => {
    const broken = {
      getTracer: () => ({
        startSpan: () => {
          throw new Error('tracer bug');
        },
        startActiveSpan: () => {
          throw new Error('tracer bug');
        },
      }),
    };
    h.instrumentation.setTracerProvider(broken as never);
    const counts = { started: 0, ended: 0, sent: 0 };
    const observer = {
      attemptStarted: () => counts.started++,
      attemptEnded: () => counts.ended++,
      jobsSent: (_q: string, _n: string, count: number) => {
        counts.sent += count;
      },
    };
    h.observe(observer);
    try {
      const { queue, seen } = queueWithWorker('broken-tracer');
      const one = await queue.add('x', { n: 1 });
      const bulk = await queue.addBulk([{ name: 'x', data: { n: 2 } }]);
      await waitFor(async () => (await queue.getJobCounts('completed')).completed === 2, {
        what: '2 completed jobs',
      });
      expect(seen.map((s) => s.id).sort()).toEqual([one.id, bulk[0]!.id].sort());
      // metrics and health still see every job
      await waitFor(() => counts.ended === 2, { what: 'attemptEnded twice' });
      expect(counts).toEqual({ started: 2, ended: 2, sent: 2 });
    } finally {
      h.instrumentation.removeObserver(observer);
      h.instrumentation.setTracerProvider(trace.getTracerProvider());
    }
  });
});

describe("the queue's own telemetry defaults", () => {
  it('writes no context when defaultJobOptions ask for omitContext', async () => {
    const seen: unknown[] = [];
    const name = h.queueName('default-omit');
    const queue = h.track(
      new h.bullmq.Queue(name, {
        connection: h.connection,
        // not in BullMQ's DefaultJobOptions type, but BullMQ honours it
        defaultJobOptions: { telemetry: { omitContext: true } } as DefaultJobOptions,
      }),
    );
    h.track(
      new h.bullmq.Worker(
        name,
        async (job) => {
          seen.push(job.opts.telemetry?.metadata);
        },
        { connection: h.connection },
      ),
    );
    await queue.add('x', {});
    await queue.addBulk([{ name: 'y', data: {} }]);
    const spans = await h.waitForSpans(named(`process ${name}`), 2);
    expect(seen).toEqual([undefined, undefined]);
    for (const span of spans) expect(span.parentSpanContext).toBeUndefined();
  });
});
