// BullMQ's own Redis traffic makes no spans by default, even with
// @opentelemetry/instrumentation-ioredis active; traceRedis turns it on.
import { context, trace } from '@opentelemetry/api';
import type { ReadableSpan } from '@opentelemetry/sdk-trace';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Harness, isChildOf, named, startHarness } from './harness.js';

let h: Harness;
beforeAll(async () => {
  h = await startHarness({ ioredis: true });
});
afterAll(() => h?.stop());

const isRedis = (s: ReadableSpan) => s.instrumentationScope.name.includes('ioredis');

/**
 * Runs one job enqueued inside a request span. The Worker is created inside
 * the span too, so its whole loop would inherit it if jobwatch did not
 * suppress it. (A Queue created inside a span can still leave one span: the
 * meta write its constructor chains; apps create queues at startup.)
 */
async function runJobInsideRequest(label: string) {
  const name = h.queueName(label);
  const userClient = h.appRedisClient();
  await userClient.ping();
  const queue = h.track(new h.bullmq.Queue(name, { connection: h.connection }));
  await queue.waitUntilReady();
  const request = h.tracer.startSpan(`request ${name}`);
  await context.with(trace.setSpan(context.active(), request), async () => {
    h.track(
      new h.bullmq.Worker(
        name,
        async () => {
          // the user's own Redis call inside the processor is traced as usual
          await userClient.get('user-key');
          return 'ok';
        },
        { connection: h.connection },
      ),
    );
    await queue.add('job', {});
  });
  request.end();
  const [processSpan] = await h.waitForSpans(named(`process ${name}`));
  userClient.disconnect();
  const [send] = h.spans().filter(named(`send ${name}`));
  return {
    processSpan: processSpan!,
    send: send!,
    request: h.spans().find(named(`request ${name}`))!,
  };
}

describe('Redis spans', () => {
  it('suppresses BullMQ’s own commands by default, but not the processor’s', async () => {
    const { processSpan, send, request } = await runJobInsideRequest('quiet');
    await new Promise((r) => setTimeout(r, 300)); // let the worker loop run a few more commands
    const redisSpans = h.spans().filter(isRedis);
    const inProcessor = redisSpans.filter((s) => isChildOf(s, processSpan));
    expect(inProcessor.map((s) => s.name)).toEqual(['get']);
    const traces = new Set([request.spanContext().traceId, processSpan.spanContext().traceId]);
    const bullmqOwn = redisSpans.filter((s) => !inProcessor.includes(s));
    expect(bullmqOwn.filter((s) => traces.has(s.spanContext().traceId))).toEqual([]);
    expect(bullmqOwn).toEqual([]);
    expect(isChildOf(send, request)).toBe(true);
  });

  it('keeps them with traceRedis: true, under the send and process spans', async () => {
    h.instrumentation.setConfig({ traceRedis: true });
    try {
      const { processSpan, send } = await runJobInsideRequest('loud');
      const redisSpans = h.spans().filter(isRedis);
      expect(redisSpans.some((s) => isChildOf(s, send))).toBe(true);
      // moving the job to completed is BullMQ's own command under the process span
      const underProcess = redisSpans.filter((s) => isChildOf(s, processSpan));
      expect(underProcess.filter((s) => s.name !== 'get').length).toBeGreaterThan(0);
    } finally {
      h.instrumentation.setConfig({});
    }
  });
});
