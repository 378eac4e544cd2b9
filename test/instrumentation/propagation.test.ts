// One trace from the code that enqueues a job to the processor that runs it,
// through BullMQ's job metadata, and the attributes every span carries.
import { context, propagation, SpanKind, trace } from '@opentelemetry/api';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { attr, type Harness, isChildOf, named, startHarness } from './harness.js';

let h: Harness;
beforeAll(async () => {
  h = await startHarness();
});
afterAll(() => h?.stop());

describe('Queue.add → process', () => {
  it('makes the process span a child of the send span, with the processor inside it', async () => {
    const name = h.queueName('orders');
    const queue = h.track(new h.bullmq.Queue(name, { connection: h.connection }));
    let seenInProcessor: { traceId?: string; spanId?: string; baggage?: string } = {};
    h.track(
      new h.bullmq.Worker(
        name,
        async () => {
          const span = trace.getActiveSpan();
          const userSpan = h.tracer.startSpan('user work');
          userSpan.end();
          seenInProcessor = {
            traceId: span?.spanContext().traceId,
            spanId: span?.spanContext().spanId,
            baggage: propagation.getActiveBaggage()?.getEntry('tenant')?.value,
          };
          return 'ok';
        },
        { connection: h.connection, name: 'order-worker' },
      ),
    );

    const request = h.tracer.startSpan('POST /orders', { kind: SpanKind.SERVER });
    const withBaggage = propagation.setBaggage(
      trace.setSpan(context.active(), request),
      propagation.createBaggage({ tenant: { value: 'acme' } }),
    );
    const job = await context.with(withBaggage, () =>
      queue.add('charge', { amount: 3 }, { delay: 10 }),
    );
    request.end();

    const [processSpan] = await h.waitForSpans(named(`process ${name}`));
    const [send] = h.spans().filter(named(`send ${name}`));
    const [user] = h.spans().filter(named('user work'));

    expect(send).toBeDefined();
    expect(isChildOf(send!, h.spans().find(named('POST /orders'))!)).toBe(true);
    expect(isChildOf(processSpan!, send!)).toBe(true);
    expect(isChildOf(user!, processSpan!)).toBe(true);
    expect(seenInProcessor.spanId).toBe(processSpan!.spanContext().spanId);
    expect(seenInProcessor.baggage).toBe('acme');

    expect(send!.kind).toBe(SpanKind.PRODUCER);
    expect(send!.attributes).toMatchObject({
      'messaging.system': 'bullmq',
      'messaging.operation.type': 'send',
      'messaging.operation.name': 'send',
      'messaging.destination.name': name,
      'messaging.message.id': job.id,
      'bullmq.job.name': 'charge',
      'bullmq.job.delay': 10,
    });
    expect(processSpan!.kind).toBe(SpanKind.CONSUMER);
    expect(processSpan!.attributes).toMatchObject({
      'messaging.system': 'bullmq',
      'messaging.operation.type': 'process',
      'messaging.operation.name': 'process',
      'messaging.destination.name': name,
      'messaging.message.id': job.id,
      'bullmq.job.name': 'charge',
      'bullmq.job.attempt': 1,
      'bullmq.job.outcome': 'completed',
      'bullmq.worker.name': 'order-worker',
    });
    expect(typeof attr(processSpan!, 'messaging.client.id')).toBe('string');
    // nothing of the payload in any span
    for (const span of h.spans()) expect(JSON.stringify(span.attributes)).not.toContain('amount');
  });
});
