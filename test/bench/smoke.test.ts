// The benchmark must not rot: every mode runs once with a few hundred jobs and
// must do what it claims. Speed is never asserted here; bench/ measures it.
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

interface Run {
  mode: string;
  status: 'ok' | 'invalid' | 'failed';
  problems: string[];
  throughput?: { completed: number; expected: number; metadata?: string | null };
  pickup?: { completed: number; expected: number; samples: number };
  spans?: { total: number; byQueue: Record<string, Record<string, number>> };
  metrics?: Record<string, number>;
}

const ROOT = resolve(__dirname, '../..');
/** Traced modes, and where their spans go (OTLP to the bench's receiver, or nowhere). */
const EXPORTED = [
  'jobwatch',
  'jobwatch-bulk-create',
  'jobwatch-json',
  'bullmq-otel',
  'bullmq-otel-json',
  'jobwatch-pino',
  'jobwatch-pino-uncorrelated',
  'appsignal5',
  'jobwatch-api',
  'bullmq-otel-api',
  'jobwatch-rate',
  'bullmq-otel-rate',
];
const TRACED = [...EXPORTED, 'jobwatch-noexport', 'bullmq-otel-noexport', 'sdk-floor'];
/** The queue each traced mode's workload processes its jobs on. */
const QUEUE: Record<string, string> = {
  'jobwatch-api': 'bench-api',
  'bullmq-otel-api': 'bench-api',
  'jobwatch-rate': 'bench-rate',
  'bullmq-otel-rate': 'bench-rate',
  'sdk-floor': 'bench-floor',
};
const ALL = [
  ...TRACED,
  'plain6',
  'jobwatch-metrics',
  'plain6-metadata',
  'plain6-pino',
  'plain5',
  'plain6-api',
  'plain6-rate',
];
/** Modes whose workload measures pickup latency. */
const PICKUP = ALL.filter((mode) => mode !== 'sdk-floor');

const dir = mkdtempSync(join(tmpdir(), 'jobwatch-bench-smoke-'));
let runs: Record<string, Run>;

beforeAll(async () => {
  const json = join(dir, 'smoke.json');
  // The exit code says whether some mode failed; the assertions below say which and why.
  await promisify(execFile)(process.execPath, ['bench/run.mjs', '--smoke', '--json', json], {
    cwd: ROOT,
    timeout: 400_000,
  }).catch((err: { code?: unknown }) => {
    if (typeof err.code !== 'number') throw err;
  });
  const { results } = JSON.parse(readFileSync(json, 'utf8')) as { results: Record<string, Run>[] };
  runs = results[0]!;
}, 420_000);

afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('npm run bench, smoke size', () => {
  it.each(ALL)('%s completes every job it adds', (mode) => {
    const run = runs[mode]!;
    expect(run.problems, `${mode}: ${run.problems.join('; ')}`).toEqual([]);
    expect(run.status).toBe('ok');
    expect(run.throughput!.completed).toBeGreaterThanOrEqual(run.throughput!.expected);
  });

  it.each(PICKUP)('%s times the pickup of every job it processes', (mode) => {
    const run = runs[mode]!;
    expect(run.pickup!.completed).toBeGreaterThanOrEqual(run.pickup!.expected);
    expect(run.pickup!.samples).toBeGreaterThan(0);
  });

  it.each(TRACED)('%s produces a span for every processed job', (mode) => {
    const run = runs[mode]!;
    const onQueue = Object.values(run.spans?.byQueue[QUEUE[mode] ?? 'bench-throughput'] ?? {});
    expect(onQueue.reduce((a, b) => a + b, 0)).toBeGreaterThanOrEqual(run.throughput!.expected);
  });

  it.each(EXPORTED)('%s delivers every span it made to the OTLP receiver, decoded', (mode) => {
    const run = runs[mode]! as Run & { received?: number };
    expect(run.received).toBe(run.spans!.total);
  });

  it.each(['jobwatch-noexport', 'bullmq-otel-noexport'])('%s exports nothing', (mode) => {
    expect((runs[mode] as Run & { received?: number }).received).toBeUndefined();
  });

  it.each([
    'jobwatch',
    'jobwatch-bulk-create',
    'jobwatch-metrics',
    'bullmq-otel',
    'jobwatch-api',
    'jobwatch-rate',
    'sdk-floor',
  ])('%s counts the processed jobs in its metrics', (mode) => {
    const totals = Object.values(runs[mode]!.metrics ?? {});
    expect(Math.max(0, ...totals)).toBeGreaterThanOrEqual(runs[mode]!.throughput!.expected);
  });

  it('plain6-metadata carries a trace context in every job that no telemetry wrote, as jobwatch writes one', () => {
    const fastShape = /^\{"traceparent":"00-[0-9a-f]{32}-[0-9a-f]{16}-01"\}$/;
    expect(runs['plain6-metadata']!.throughput!.metadata).toMatch(fastShape);
    expect(runs.jobwatch!.throughput!.metadata).toMatch(fastShape);
    expect(runs['plain6-metadata']!.throughput!.metadata!.length).toBe(
      runs.jobwatch!.throughput!.metadata!.length,
    );
    expect(runs.plain6!.throughput!.metadata).toBeNull();
  });

  it('jobwatch (the default) makes no create span, one send span per addBulk; jobwatch-bulk-create a create span per job', () => {
    const spans = runs.jobwatch!.spans!.byQueue['bench-throughput']!;
    expect(spans['create bench-throughput']).toBeUndefined();
    expect(spans['send bench-throughput']).toBeGreaterThan(0);
    const created = runs['jobwatch-bulk-create']!.spans!.byQueue['bench-throughput']!;
    expect(created['create bench-throughput']).toBeGreaterThanOrEqual(
      runs['jobwatch-bulk-create']!.throughput!.expected,
    );
  });

  it.each(['plain6-api', 'jobwatch-api', 'plain6-rate'])(
    '%s counts the Redis commands of its jobs',
    (mode) => {
      const redis = (runs[mode]!.throughput as { redis?: { commandsPerJob: number } }).redis;
      expect(redis?.commandsPerJob).toBeGreaterThan(1);
    },
  );
});
