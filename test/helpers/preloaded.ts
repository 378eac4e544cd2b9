// For test files that run preloaded apps as real processes: the file's own
// redis-server and OTLP receiver (examples/otlp-receiver.mjs), the environment
// that makes an app export to it quickly, and the receiver's span shape.
import { Queue } from 'bullmq';
import { afterAll, afterEach, beforeAll, expect } from 'vitest';
import { startOtlpReceiver } from '../../examples/otlp-receiver.mjs';
import { scrape } from '../metrics/scrape.js';
import { killAll, type NodeProcess } from './node-process.js';
import { freePort, waitFor } from './ports.js';
import { RedisServer } from './redis.js';

export interface ReceivedSpan {
  traceId: string;
  spanId: string;
  parentSpanId: string;
  name: string;
  kind: number;
  attributes: Record<string, unknown>;
  events: { name: string; attributes: Record<string, unknown> }[];
  status: { code: number; message: string };
  resource: Record<string, unknown>;
  scope: string;
}

export interface ReceivedMetric {
  name: string;
  unit: string;
  type: 'gauge' | 'sum' | 'histogram';
  resource: Record<string, unknown>;
  points: { attributes: Record<string, unknown>; value: number }[];
}

export interface Receiver {
  url: string;
  spans: ReceivedSpan[];
  metrics: ReceivedMetric[];
  close(): Promise<void>;
}

export const SPAN_KIND = { INTERNAL: 1, SERVER: 2, CLIENT: 3, PRODUCER: 4, CONSUMER: 5 } as const;

export interface PreloadedSetup {
  redis: RedisServer;
  receiver: Receiver;
  /** Environment for a preloaded app: this file's Redis (REDIS_URL), fast export to the receiver, free ports. */
  env(extra?: Record<string, string>): Promise<Record<string, string>>;
  /** Waits for the spans of one trace until `done` says they are complete. */
  trace(traceId: string, done: (spans: ReceivedSpan[]) => boolean): Promise<ReceivedSpan[]>;
  /** Adds `n` jobs named `work` to `queueName` (no jobwatch in the test process); returns their ids. */
  addJobs(queueName: string, n: number, data?: object): Promise<string[]>;
}

/** The job ids a test fixture app printed as `processed <id>`. */
export function processed(proc: NodeProcess): string[] {
  return [...proc.stdout.matchAll(/^processed (\S+)$/gm)].map((m) => m[1]!);
}

/**
 * What every preloaded worker app must do: process job `id`, export its
 * process span, and report its worker on `queue` up on its own /metrics
 * (at the port in `env`).
 */
export async function expectTracedAndUp(
  setup: PreloadedSetup,
  worker: NodeProcess,
  env: Record<string, string>,
  queue: string,
  id: string,
): Promise<void> {
  await waitFor(() => processed(worker).includes(id), { what: `job ${id}` });
  await waitFor(
    () =>
      setup.receiver.spans.find(
        (s) => s.kind === SPAN_KIND.CONSUMER && s.attributes['messaging.message.id'] === id,
      ),
    { what: 'the process span', timeoutMs: 20_000 },
  );
  const metrics = `http://127.0.0.1:${env.OTEL_EXPORTER_PROMETHEUS_PORT}/metrics`;
  const up = await waitFor(
    async () =>
      (await scrape(metrics).catch(() => undefined))?.samples.find(
        (s) => s.name === 'worker_status' && s.labels.messaging_destination_name === queue,
      ),
    { what: 'worker_status' },
  );
  expect(up.value).toBe(1);
  expect(worker.stderr).not.toContain('[jobwatch] error');
}

/** Starts Redis and the receiver for this test file; after each test, kills its processes and empties the receiver. */
export function usePreloadedSetup(): PreloadedSetup {
  const setup: PreloadedSetup = {
    redis: undefined!, // set in beforeAll
    receiver: undefined!,
    async env(extra: Record<string, string> = {}) {
      return {
        REDIS_URL: setup.redis.url,
        OTEL_EXPORTER_OTLP_ENDPOINT: setup.receiver.url,
        OTEL_BSP_SCHEDULE_DELAY: '100',
        OTEL_METRIC_EXPORT_INTERVAL: '500',
        OTEL_EXPORTER_PROMETHEUS_PORT: String(await freePort()),
        JOBWATCH_HEARTBEAT_INTERVAL_MS: '500',
        ...extra,
      };
    },
    async addJobs(queueName: string, n: number, data: object = {}) {
      const queue = new Queue(queueName, { connection: setup.redis.connection });
      try {
        const jobs = await queue.addBulk(Array.from({ length: n }, () => ({ name: 'work', data })));
        return jobs.map((j) => j.id!);
      } finally {
        await queue.close();
      }
    },
    trace(traceId: string, done: (spans: ReceivedSpan[]) => boolean) {
      return waitFor(
        () => {
          const spans = setup.receiver.spans.filter((s) => s.traceId === traceId);
          return done(spans) ? spans : undefined;
        },
        { what: `the spans of trace ${traceId}`, timeoutMs: 20_000 },
      );
    },
  };
  beforeAll(async () => {
    setup.redis = await RedisServer.start();
  });
  afterAll(async () => {
    await setup.redis?.close();
  });
  useReceiver(setup);
  return setup;
}

/**
 * Starts this file's OTLP receiver into `setup.receiver`; after each test,
 * kills the test's processes and empties the receiver. Hooks registered before
 * this call run their afterAll after it (so servers outlive the apps using them).
 */
export function useReceiver(setup: { receiver: Receiver }): void {
  beforeAll(async () => {
    setup.receiver = await startOtlpReceiver();
  });
  afterEach(async () => {
    await killAll();
    setup.receiver.spans.length = 0;
    setup.receiver.metrics.length = 0;
  });
  afterAll(async () => {
    await killAll();
    await setup.receiver?.close();
  });
}
