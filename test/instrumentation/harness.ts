// Shared setup of the instrumentation tests: a real redis-server, the global
// OpenTelemetry API wired to an in-memory exporter, BullMQInstrumentation
// enabled, and then the BullMQ under test (JOBWATCH_TEST_BULLMQ) loaded with
// require(), so that require-in-the-middle patches it as in a user's app.
// (vitest imports packages by file path, which the ESM hook does not match;
// the ESM path is covered by the end-to-end tests with the real preload.)
import { createRequire } from 'node:module';
import { context, propagation, type SpanContext, trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import {
  CompositePropagator,
  W3CBaggagePropagator,
  W3CTraceContextPropagator,
} from '@opentelemetry/core';
import type { Instrumentation } from '@opentelemetry/instrumentation';
import {
  InMemorySpanExporter,
  type ReadableSpan,
  SimpleSpanProcessor,
  TracerProvider,
} from '@opentelemetry/sdk-trace';
import { BullMQInstrumentation } from '../../src/instrumentation/instrumentation.js';
import type { BullMQInstrumentationConfig } from '../../src/instrumentation/types.js';
import type { LifecycleObserver } from '../../src/lifecycle.js';
import { BULLMQ_PATH } from '../helpers/bullmq-majors.js';
import { waitFor } from '../helpers/ports.js';
import { RedisServer } from '../helpers/redis.js';

export { BULLMQ_MAJOR } from '../helpers/bullmq-majors.js';

type BullMQ = typeof import('bullmq');
const require = createRequire(__filename);

export interface HarnessOptions {
  config?: BullMQInstrumentationConfig;
  /** Also enable @opentelemetry/instrumentation-ioredis (loaded before BullMQ, like a user's preload would). */
  ioredis?: boolean;
}

export async function startHarness(options: HarnessOptions = {}) {
  const exporter = new InMemorySpanExporter();
  const provider = new TracerProvider({ spanProcessors: [new SimpleSpanProcessor({ exporter })] });
  trace.setGlobalTracerProvider(provider);
  context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
  propagation.setGlobalPropagator(
    new CompositePropagator({
      propagators: [new W3CTraceContextPropagator(), new W3CBaggagePropagator()],
    }),
  );
  const instrumentations: Instrumentation[] = [];
  if (options.ioredis) {
    const { IORedisInstrumentation } = require('@opentelemetry/instrumentation-ioredis');
    instrumentations.push(new IORedisInstrumentation());
  }
  const instrumentation = new BullMQInstrumentation(options.config);
  instrumentations.push(instrumentation);
  for (const i of instrumentations) i.setTracerProvider(provider);
  const bullmq = require(BULLMQ_PATH) as BullMQ;
  // the app's own ioredis: the one BullMQ resolves (the instrumented module)
  const { Redis } = createRequire(require.resolve(BULLMQ_PATH))(
    'ioredis',
  ) as typeof import('ioredis');
  const redis = await RedisServer.start();
  const closers: { close(): Promise<unknown> }[] = [];
  let queueCount = 0;
  const queueName = (label = 'q') => {
    queueCount += 1;
    return `${label}-${queueCount}`;
  };
  const track = <T extends { close(): Promise<unknown> }>(closable: T): T => {
    closers.push(closable);
    return closable;
  };

  return {
    bullmq,
    redis,
    exporter,
    instrumentation,
    tracer: trace.getTracer('test'),
    connection: redis.connection,
    /** A client of the app's own, from the ioredis that BullMQ uses. */
    appRedisClient: () => new Redis(redis.connection),

    /** A queue name no other test in the file uses. */
    queueName,
    /** Registers BullMQ objects (Queue, Worker, FlowProducer, QueueEvents) to close in `stop`. */
    track,

    /** A fresh queue and a worker on it running `processor`. */
    queueWithWorker(
      label: string,
      processor: (job: import('bullmq').Job, token?: string) => Promise<unknown> = async () => 'ok',
      workerOpts: Partial<import('bullmq').WorkerOptions> = {},
    ) {
      const name = queueName(label);
      const queue = track(new bullmq.Queue(name, { connection: redis.connection }));
      const worker = track(
        new bullmq.Worker(name, processor, { connection: redis.connection, ...workerOpts }),
      );
      return { name, queue, worker };
    },

    observe(observer: LifecycleObserver): void {
      instrumentation.addObserver(observer);
    },

    spans(): ReadableSpan[] {
      return exporter.getFinishedSpans();
    },

    /** Waits until `count` finished spans match `predicate`, then returns them. */
    async waitForSpans(
      predicate: (span: ReadableSpan) => boolean,
      count = 1,
      what = 'spans',
    ): Promise<ReadableSpan[]> {
      return waitFor(
        () => {
          const found = exporter.getFinishedSpans().filter(predicate);
          return found.length >= count ? found : undefined;
        },
        { what: `${count} ${what}`, timeoutMs: 20_000 },
      );
    },

    async stop(): Promise<void> {
      for (const c of closers.reverse()) await c.close().catch(() => undefined);
      instrumentation.disable();
      await provider.shutdown();
      await redis.close();
    },
  };
}

export type Harness = Awaited<ReturnType<typeof startHarness>>;

export const named = (name: string) => (span: ReadableSpan) => span.name === name;

export function parentOf(span: ReadableSpan): SpanContext | undefined {
  return span.parentSpanContext;
}

/** `child` is a direct child of `parent` in the same trace. */
export function isChildOf(child: ReadableSpan, parent: ReadableSpan): boolean {
  const p = child.parentSpanContext;
  return (
    p !== undefined &&
    p.spanId === parent.spanContext().spanId &&
    child.spanContext().traceId === parent.spanContext().traceId
  );
}

export function attr(span: ReadableSpan, key: string): unknown {
  return span.attributes[key];
}
