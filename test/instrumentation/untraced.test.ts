// No TracerProvider registered (OTEL_TRACES_EXPORTER=none, or an app with
// metrics only): jobwatch starts no spans on the per-job path, yet the trace
// context and baggage the caller is in still travel with its jobs to the
// processors, as no-op spans would have passed them on; the lifecycle hooks
// (metrics, health) see every attempt; and a provider registered later is used
// at once.
import { createRequire } from 'node:module';
import {
  type Context,
  context,
  isSpanContextValid,
  propagation,
  ROOT_CONTEXT,
  type SpanContext,
  TraceFlags,
  trace,
} from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import {
  CompositePropagator,
  W3CBaggagePropagator,
  W3CTraceContextPropagator,
} from '@opentelemetry/core';
import {
  InMemorySpanExporter,
  SimpleSpanProcessor,
  TracerProvider,
} from '@opentelemetry/sdk-trace';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BullMQInstrumentation } from '../../src/instrumentation/instrumentation.js';
import { BULLMQ_PATH } from '../helpers/bullmq-majors.js';
import { waitFor } from '../helpers/ports.js';
import { RedisServer } from '../helpers/redis.js';

const require = createRequire(__filename);

context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
propagation.setGlobalPropagator(
  new CompositePropagator({
    propagators: [new W3CTraceContextPropagator(), new W3CBaggagePropagator()],
  }),
);
const instrumentation = new BullMQInstrumentation();
const bullmq = require(BULLMQ_PATH) as typeof import('bullmq');

const CALLER: SpanContext = {
  traceId: '4bf92f3577b34da6a3ce929d0e0e4736',
  spanId: '00f067aa0ba902b7',
  traceFlags: TraceFlags.SAMPLED,
  isRemote: true,
};

interface Seen {
  job: string;
  spanContext: SpanContext | undefined;
  tenant: string | undefined;
}

let redis: RedisServer;
const closers: { close(): Promise<unknown> }[] = [];
let queueCount = 0;

/** A queue and a worker that records the context each processor runs in. */
function queueWithWorker(seen: Seen[]) {
  const name = `untraced-${++queueCount}`;
  const queue = new bullmq.Queue(name, { connection: redis.connection });
  const worker = new bullmq.Worker(
    name,
    async (job) => {
      const active = context.active();
      seen.push({
        job: job.name,
        spanContext: trace.getSpanContext(active),
        tenant: propagation.getBaggage(active)?.getEntry('tenant')?.value,
      });
    },
    { connection: redis.connection },
  );
  closers.push(worker, queue);
  return queue;
}

async function addBoth(queue: import('bullmq').Queue, ctx: Context) {
  return context.with(ctx, async () => [
    await queue.add('single', { n: 1 }),
    ...(await queue.addBulk([
      { name: 'bulk-a', data: {} },
      { name: 'bulk-b', data: {}, opts: { attempts: 2 } },
    ])),
  ]);
}

beforeAll(async () => {
  redis = await RedisServer.start();
});

afterAll(async () => {
  for (const c of closers.reverse()) await c.close().catch(() => undefined);
  instrumentation.disable();
  await redis?.close();
});

describe('without a TracerProvider', () => {
  it('passes the caller’s trace context and baggage on to the processors, and reports every attempt', async () => {
    const ended: string[] = [];
    instrumentation.addObserver({ attemptEnded: (_w, job) => ended.push(job.name) });
    const seen: Seen[] = [];
    const queue = queueWithWorker(seen);
    const caller = propagation.setBaggage(
      trace.setSpanContext(ROOT_CONTEXT, CALLER),
      propagation.createBaggage({ tenant: { value: 'acme' } }),
    );
    await addBoth(queue, caller);
    await waitFor(() => seen.length === 3 && ended.length === 3, { what: '3 processed jobs' });
    expect(instrumentation.tracingOff).toBe(true);
    for (const s of seen) {
      expect(s.spanContext?.traceId, s.job).toBe(CALLER.traceId);
      expect(s.spanContext?.spanId, s.job).toBe(CALLER.spanId);
      expect(s.tenant, s.job).toBe('acme');
    }
    expect(ended.sort()).toEqual(['bulk-a', 'bulk-b', 'single']);
  });

  it('writes no trace metadata into jobs added outside any trace, and keeps their own options', async () => {
    const seen: Seen[] = [];
    const queue = queueWithWorker(seen);
    const jobs = await addBoth(queue, ROOT_CONTEXT);
    await waitFor(() => seen.length === 3, { what: '3 processed jobs' });
    for (const added of jobs) {
      const stored = await bullmq.Job.fromId(queue, added.id!);
      expect(stored?.opts.telemetry, added.name).toBeUndefined();
    }
    expect((await bullmq.Job.fromId(queue, jobs[2]!.id!))?.opts.attempts).toBe(2);
    for (const s of seen)
      expect(s.spanContext && isSpanContextValid(s.spanContext), s.job).toBeFalsy();
  });

  it('traces at once when a TracerProvider is registered later', async () => {
    const exporter = new InMemorySpanExporter();
    const provider = new TracerProvider({
      spanProcessors: [new SimpleSpanProcessor({ exporter })],
    });
    trace.setGlobalTracerProvider(provider);
    expect(instrumentation.tracingOff).toBe(false);
    const seen: Seen[] = [];
    const queue = queueWithWorker(seen);
    await addBoth(queue, ROOT_CONTEXT);
    const spans = await waitFor(
      () => {
        const done = exporter.getFinishedSpans();
        return done.filter((s) => s.name.startsWith('process ')).length === 3 ? done : undefined;
      },
      { what: '3 process spans' },
    );
    const names = spans.map((s) => s.name.split(' ')[0]).sort();
    expect(names).toEqual(['process', 'process', 'process', 'send', 'send']); // a bulk: one send span
    for (const s of seen) expect(s.spanContext?.traceId, s.job).toMatch(/^[0-9a-f]{32}$/);
    await provider.shutdown();
  });
});
