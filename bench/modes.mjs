// The benchmark's modes. Each runs in its own fresh node process; a mode
// decides how that process is started and which workload it runs: the
// standard one (workload.mjs), the API-style one (api-workload.mjs), jobs at a
// fixed rate (rate-workload.mjs) or the SDK floor (floor-workload.mjs, no BullMQ).
// Traced modes export their spans over real OTLP/HTTP to the benchmark's
// receiver (receiver.mjs) unless a mode says otherwise.
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = (file) => fileURLToPath(new URL(file, import.meta.url));
const TELEMETRY = here('./telemetry.cjs');
// Resolved through the package's own exports map, as a user's app would.
const JOBWATCH = 'jobwatch/register';
const BULLMQ5 = here('../test/versions/5.81.5/node_modules/bullmq');

/**
 * @typedef {object} Mode
 * @property {string} id
 * @property {string} label
 * @property {string} baseline  id of the mode its throughput is compared with
 * @property {string} bullmq    what the workload requires as BullMQ
 * @property {string[]} preload modules given to node with --require, in order
 * @property {(ports: {metrics: number, health: number}) => Record<string, string>} env
 * @property {'none'|'bullmq-otel'} telemetryOption what the workload passes as Queue/Worker `telemetry`
 * @property {boolean} traced   whether the mode must produce spans
 * @property {'otlp'|'otlp-json'|'none'} [export] where its spans go: real OTLP/HTTP (protobuf, or
 *   JSON) to the benchmark's receiver through a default BatchSpanProcessor, or nowhere (counted
 *   and dropped: the "no export" rows); default 'none'
 * @property {'none'|'reader'|'prometheus'} metrics where the mode's metrics are read back from
 * @property {'standard'|'api'|'rate'|'floor'} [workload] what the process runs (default 'standard')
 * @property {'app'|'own'} [sdk] whose OpenTelemetry SDK: the app's (telemetry.cjs, which jobwatch
 *   joins; the default) or jobwatch's own, started by the preload from the OTEL_* variables
 */

/** @type {Mode[]} */
export const MODES = [
  {
    id: 'plain6',
    label: 'plain BullMQ 6',
    baseline: 'plain6',
    bullmq: 'bullmq',
    preload: [],
    env: () => ({}),
    telemetryOption: 'none',
    traced: false,
    metrics: 'none',
  },
  {
    id: 'jobwatch',
    label: 'jobwatch, everything on',
    baseline: 'plain6',
    bullmq: 'bullmq',
    // The app's own OpenTelemetry setup comes first and jobwatch joins it
    // (src/preload/sdk.ts): its spans reach the counting
    // exporter and its metrics the same collecting reader bullmq-otel's do.
    preload: [TELEMETRY, JOBWATCH],
    env: (ports) => ({ BENCH_TRACES: '1', BENCH_METRICS: '1', ...jobwatchEnv(ports) }),
    telemetryOption: 'none',
    traced: true,
    export: 'otlp',
    metrics: 'reader',
  },
  {
    // The zero-code path: only the preload, whose own SDK exports to the receiver as
    // OTEL_EXPORTER_OTLP_ENDPOINT says (BatchSpanProcessor defaults, every span sampled).
    id: 'jobwatch-own-sdk',
    label: 'jobwatch, everything on, its own SDK (the preload alone)',
    baseline: 'plain6',
    bullmq: 'bullmq',
    preload: [JOBWATCH],
    env: (ports) => jobwatchEnv(ports),
    telemetryOption: 'none',
    traced: true,
    export: 'otlp',
    sdk: 'own',
    metrics: 'prometheus',
  },
  {
    id: 'jobwatch-bulk-create',
    label:
      'jobwatch, everything on, a create span per bulk-added job (JOBWATCH_BULK_CREATE_SPANS=true)',
    baseline: 'plain6',
    bullmq: 'bullmq',
    preload: [TELEMETRY, JOBWATCH],
    env: (ports) => ({
      BENCH_TRACES: '1',
      BENCH_METRICS: '1',
      JOBWATCH_BULK_CREATE_SPANS: 'true',
      ...jobwatchEnv(ports),
    }),
    telemetryOption: 'none',
    traced: true,
    export: 'otlp',
    metrics: 'reader',
  },
  {
    id: 'jobwatch-metrics',
    label: 'jobwatch, metrics + health only',
    baseline: 'plain6',
    bullmq: 'bullmq',
    preload: [JOBWATCH],
    // The standard "no traces" switch: the SDK then installs no TracerProvider.
    // (always_off would still mint ids and write a traceparent into every job:
    // that is "traces sampled out", a different question.)
    env: (ports) => ({ OTEL_TRACES_EXPORTER: 'none', ...jobwatchEnv(ports) }),
    telemetryOption: 'none',
    traced: false,
    metrics: 'prometheus',
  },
  {
    id: 'bullmq-otel',
    label: 'BullMQ 6 native telemetry (bullmq-otel, metrics on)',
    baseline: 'plain6',
    bullmq: 'bullmq',
    preload: [TELEMETRY],
    env: () => ({ BENCH_TRACES: '1', BENCH_METRICS: '1' }),
    telemetryOption: 'bullmq-otel',
    traced: true,
    export: 'otlp',
    metrics: 'reader',
  },
  // The same two, exporting OTLP/HTTP JSON instead of protobuf, and exporting nothing
  // (spans counted and dropped): what the exporter itself costs each.
  {
    id: 'jobwatch-json',
    label: 'jobwatch, everything on, OTLP/HTTP JSON',
    baseline: 'plain6',
    bullmq: 'bullmq',
    preload: [TELEMETRY, JOBWATCH],
    env: (ports) => ({ BENCH_TRACES: '1', BENCH_METRICS: '1', ...jobwatchEnv(ports) }),
    telemetryOption: 'none',
    traced: true,
    export: 'otlp-json',
    metrics: 'reader',
  },
  {
    id: 'bullmq-otel-json',
    label: 'bullmq-otel, OTLP/HTTP JSON',
    baseline: 'plain6',
    bullmq: 'bullmq',
    preload: [TELEMETRY],
    env: () => ({ BENCH_TRACES: '1', BENCH_METRICS: '1' }),
    telemetryOption: 'bullmq-otel',
    traced: true,
    export: 'otlp-json',
    metrics: 'reader',
  },
  {
    id: 'jobwatch-noexport',
    label: 'jobwatch, everything on, no export (spans counted and dropped)',
    baseline: 'plain6',
    bullmq: 'bullmq',
    preload: [TELEMETRY, JOBWATCH],
    env: (ports) => ({ BENCH_TRACES: '1', BENCH_METRICS: '1', ...jobwatchEnv(ports) }),
    telemetryOption: 'none',
    traced: true,
    export: 'none',
    metrics: 'reader',
  },
  {
    id: 'bullmq-otel-noexport',
    label: 'bullmq-otel, no export (spans counted and dropped)',
    baseline: 'plain6',
    bullmq: 'bullmq',
    preload: [TELEMETRY],
    env: () => ({ BENCH_TRACES: '1', BENCH_METRICS: '1' }),
    telemetryOption: 'bullmq-otel',
    traced: true,
    export: 'none',
    metrics: 'reader',
  },
  {
    // Not a telemetry: the part of any propagating instrumentation's cost
    // (jobwatch's and bullmq-otel's alike) that BullMQ and ioredis pay for
    // the ~70 bytes of trace context in every job's options.
    id: 'plain6-metadata',
    label: 'plain BullMQ 6, each job carrying a trace context (no telemetry)',
    baseline: 'plain6',
    bullmq: 'bullmq',
    preload: [],
    env: () => ({ BENCH_JOB_METADATA: '1' }),
    telemetryOption: 'none',
    traced: false,
    metrics: 'none',
  },
  // Log correlation: one pino line per job (to /dev/null) in the processor, plain
  // and with jobwatch, with and without the correlation fields on the line.
  {
    id: 'plain6-pino',
    label: 'plain BullMQ 6, a pino line per job',
    baseline: 'plain6-pino',
    bullmq: 'bullmq',
    preload: [],
    env: () => ({ BENCH_PINO: '1' }),
    telemetryOption: 'none',
    traced: false,
    metrics: 'none',
  },
  {
    id: 'jobwatch-pino',
    label: 'jobwatch, everything on, a pino line per job with its trace (log correlation)',
    baseline: 'plain6-pino',
    bullmq: 'bullmq',
    preload: [TELEMETRY, JOBWATCH],
    env: (ports) => ({
      BENCH_TRACES: '1',
      BENCH_METRICS: '1',
      BENCH_PINO: '1',
      ...jobwatchEnv(ports),
    }),
    telemetryOption: 'none',
    traced: true,
    export: 'otlp',
    metrics: 'reader',
  },
  {
    id: 'jobwatch-pino-uncorrelated',
    label:
      'jobwatch, everything on, a pino line per job without its trace (JOBWATCH_LOG_CORRELATION=false)',
    baseline: 'plain6-pino',
    bullmq: 'bullmq',
    preload: [TELEMETRY, JOBWATCH],
    env: (ports) => ({
      BENCH_TRACES: '1',
      BENCH_METRICS: '1',
      BENCH_PINO: '1',
      JOBWATCH_LOG_CORRELATION: 'false',
      ...jobwatchEnv(ports),
    }),
    telemetryOption: 'none',
    traced: true,
    export: 'otlp',
    metrics: 'reader',
  },
  {
    id: 'plain5',
    label: 'plain BullMQ 5',
    baseline: 'plain5',
    bullmq: BULLMQ5,
    preload: [],
    env: () => ({}),
    telemetryOption: 'none',
    traced: false,
    metrics: 'none',
  },
  {
    id: 'appsignal5',
    label: '@appsignal/opentelemetry-instrumentation-bullmq on BullMQ 5',
    baseline: 'plain5',
    bullmq: BULLMQ5,
    preload: [TELEMETRY],
    env: () => ({ BENCH_TRACES: '1', BENCH_INSTRUMENT: 'appsignal' }),
    telemetryOption: 'none',
    traced: true,
    export: 'otlp',
    metrics: 'none',
  },
  {
    id: 'plain6-api',
    label: 'API-style: plain BullMQ 6',
    baseline: 'plain6-api',
    bullmq: 'bullmq',
    preload: [],
    env: () => ({}),
    telemetryOption: 'none',
    traced: false,
    metrics: 'none',
    workload: 'api',
  },
  {
    id: 'jobwatch-api',
    label: 'API-style: jobwatch, everything on',
    baseline: 'plain6-api',
    bullmq: 'bullmq',
    preload: [TELEMETRY, JOBWATCH],
    env: (ports) => ({ BENCH_TRACES: '1', BENCH_METRICS: '1', ...jobwatchEnv(ports) }),
    telemetryOption: 'none',
    traced: true,
    export: 'otlp',
    metrics: 'reader',
    workload: 'api',
  },
  {
    id: 'bullmq-otel-api',
    label: 'API-style: bullmq-otel',
    baseline: 'plain6-api',
    bullmq: 'bullmq',
    preload: [TELEMETRY],
    env: () => ({ BENCH_TRACES: '1', BENCH_METRICS: '1' }),
    telemetryOption: 'bullmq-otel',
    traced: true,
    export: 'otlp',
    metrics: 'reader',
    workload: 'api',
  },
  // Fixed rate (rate-workload.mjs): jobs arrive at plan.rate per second whatever the
  // telemetry costs; what differs is node CPU per job and the pickup latency.
  {
    id: 'plain6-rate',
    label: 'fixed rate: plain BullMQ 6',
    baseline: 'plain6-rate',
    bullmq: 'bullmq',
    preload: [],
    env: () => ({}),
    telemetryOption: 'none',
    traced: false,
    metrics: 'none',
    workload: 'rate',
  },
  {
    id: 'jobwatch-rate',
    label: 'fixed rate: jobwatch, everything on',
    baseline: 'plain6-rate',
    bullmq: 'bullmq',
    preload: [TELEMETRY, JOBWATCH],
    env: (ports) => ({ BENCH_TRACES: '1', BENCH_METRICS: '1', ...jobwatchEnv(ports) }),
    telemetryOption: 'none',
    traced: true,
    export: 'otlp',
    metrics: 'reader',
    workload: 'rate',
  },
  {
    id: 'bullmq-otel-rate',
    label: 'fixed rate: bullmq-otel',
    baseline: 'plain6-rate',
    bullmq: 'bullmq',
    preload: [TELEMETRY],
    env: () => ({ BENCH_TRACES: '1', BENCH_METRICS: '1' }),
    telemetryOption: 'bullmq-otel',
    traced: true,
    export: 'otlp',
    metrics: 'reader',
    workload: 'rate',
  },
  {
    id: 'sdk-floor',
    label: 'SDK floor: the same spans, inject/extract and records on the stock SDK, no BullMQ',
    baseline: 'sdk-floor',
    bullmq: 'bullmq',
    preload: [TELEMETRY],
    env: () => ({ BENCH_TRACES: '1', BENCH_METRICS: '1' }),
    telemetryOption: 'none',
    traced: true,
    metrics: 'reader',
    workload: 'floor',
  },
];

/** Everything on, defaults kept: heartbeats, registry view, queue depth, health server. */
function jobwatchEnv(ports) {
  return {
    OTEL_SERVICE_NAME: 'jobwatch-bench',
    OTEL_METRICS_EXPORTER: 'prometheus',
    OTEL_EXPORTER_PROMETHEUS_HOST: '127.0.0.1',
    OTEL_EXPORTER_PROMETHEUS_PORT: String(ports.metrics),
    JOBWATCH_HEALTH_PORT: String(ports.health),
  };
}

/**
 * `--compare <dir>`: every jobwatch mode once more, preloading the build in
 * another checkout's dist/ (e.g. the commit before a change), placed right
 * after the mode it twins so both run in the same round against the same baseline.
 */
export function withComparison(modes, dir) {
  if (!dir) return modes;
  // the preload's place in the build moved to dist/preload/ (the exports map names it)
  const dist = join(resolve(dir), 'dist');
  const register = [join(dist, 'preload', 'register.js'), join(dist, 'register.js')].find((f) =>
    existsSync(f),
  );
  if (register === undefined)
    throw new Error(
      `--compare ${dir}: no dist/preload/register.js (nor an older dist/register.js) there: build it first`,
    );
  return modes.flatMap((mode) => {
    if (!mode.preload.includes(JOBWATCH)) return [mode];
    const twin = {
      ...mode,
      id: `${mode.id}@compare`,
      label: `${mode.label} [comparison build]`,
      preload: mode.preload.map((p) => (p === JOBWATCH ? register : p)),
    };
    return [twin, mode];
  });
}

export function selectModes(ids) {
  if (!ids) return MODES;
  const wanted = ids.split(',');
  const unknown = wanted.filter((id) => !MODES.some((m) => m.id === id));
  if (unknown.length) throw new Error(`unknown mode(s): ${unknown.join(', ')}`);
  // A ratio needs its baseline in the same run.
  const withBaselines = new Set(wanted.flatMap((id) => [id, byId(id).baseline]));
  return MODES.filter((m) => withBaselines.has(m.id));
}

export function byId(id) {
  return MODES.find((m) => m.id === id);
}

/** The queue whose spans show that a mode traced every job it processed. */
export function tracedQueue(mode) {
  return {
    standard: 'bench-throughput',
    api: 'bench-api',
    rate: 'bench-rate',
    floor: 'bench-floor',
  }[mode.workload ?? 'standard'];
}
