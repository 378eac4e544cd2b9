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

/** @type {Mode} plain BullMQ 6, no telemetry: the baseline the others are variants of */
const PLAIN6 = {
  id: 'plain6',
  label: 'plain BullMQ 6',
  baseline: 'plain6',
  bullmq: 'bullmq',
  preload: [],
  env: () => ({}),
  telemetryOption: 'none',
  traced: false,
  metrics: 'none',
};

/**
 * @type {Mode} jobwatch, everything on. The app's own OpenTelemetry setup comes
 * first and jobwatch joins it (src/preload/sdk.ts): its spans reach the receiver
 * and its metrics the same collecting reader bullmq-otel's do.
 */
const JOBWATCH_ON = {
  ...PLAIN6,
  id: 'jobwatch',
  label: 'jobwatch, everything on',
  preload: [TELEMETRY, JOBWATCH],
  env: (ports) => ({ BENCH_TRACES: '1', BENCH_METRICS: '1', ...jobwatchEnv(ports) }),
  traced: true,
  export: 'otlp',
  metrics: 'reader',
};

/** @type {Mode} BullMQ 6's own telemetry option, on the same app SDK */
const BULLMQ_OTEL = {
  ...PLAIN6,
  id: 'bullmq-otel',
  label: 'BullMQ 6 native telemetry (bullmq-otel, metrics on)',
  preload: [TELEMETRY],
  env: () => ({ BENCH_TRACES: '1', BENCH_METRICS: '1' }),
  telemetryOption: 'bullmq-otel',
  traced: true,
  export: 'otlp',
  metrics: 'reader',
};

/** `mode`'s environment and `extra` on top */
const plusEnv = (mode, extra) => (ports) => ({ ...mode.env(ports), ...extra });

/** The three shapes in another workload (or export), compared with that workload's plain run */
function workloadOf(workload, prefix, overrides = {}) {
  const baseline = `plain6-${workload}`;
  return [PLAIN6, JOBWATCH_ON, BULLMQ_OTEL].map((mode) => ({
    ...mode,
    ...overrides,
    id: `${mode.id}-${workload}`,
    label: `${prefix}: ${mode === BULLMQ_OTEL ? 'bullmq-otel' : mode.label}`,
    baseline,
    workload,
  }));
}

/** @type {Mode[]} */
export const MODES = [
  PLAIN6,
  JOBWATCH_ON,
  {
    // The zero-code path: only the preload, whose own SDK exports to the receiver as
    // OTEL_EXPORTER_OTLP_ENDPOINT says (BatchSpanProcessor defaults, every span sampled).
    ...JOBWATCH_ON,
    id: 'jobwatch-own-sdk',
    label: 'jobwatch, everything on, its own SDK (the preload alone)',
    preload: [JOBWATCH],
    env: (ports) => jobwatchEnv(ports),
    sdk: 'own',
    metrics: 'prometheus',
  },
  {
    ...JOBWATCH_ON,
    id: 'jobwatch-bulk-create',
    label:
      'jobwatch, everything on, a create span per bulk-added job (JOBWATCH_BULK_CREATE_SPANS=true)',
    env: plusEnv(JOBWATCH_ON, { JOBWATCH_BULK_CREATE_SPANS: 'true' }),
  },
  {
    ...PLAIN6,
    id: 'jobwatch-metrics',
    label: 'jobwatch, metrics + health only',
    preload: [JOBWATCH],
    // The standard "no traces" switch: the SDK then installs no TracerProvider.
    // (always_off would still mint ids and write a traceparent into every job:
    // that is "traces sampled out", a different question.)
    env: (ports) => ({ OTEL_TRACES_EXPORTER: 'none', ...jobwatchEnv(ports) }),
    metrics: 'prometheus',
  },
  BULLMQ_OTEL,
  // The same two, exporting OTLP/HTTP JSON instead of protobuf, and exporting nothing
  // (spans counted and dropped): what the exporter itself costs each.
  {
    ...JOBWATCH_ON,
    id: 'jobwatch-json',
    label: 'jobwatch, everything on, OTLP/HTTP JSON',
    export: 'otlp-json',
  },
  {
    ...BULLMQ_OTEL,
    id: 'bullmq-otel-json',
    label: 'bullmq-otel, OTLP/HTTP JSON',
    export: 'otlp-json',
  },
  {
    ...JOBWATCH_ON,
    id: 'jobwatch-noexport',
    label: 'jobwatch, everything on, no export (spans counted and dropped)',
    export: 'none',
  },
  {
    ...BULLMQ_OTEL,
    id: 'bullmq-otel-noexport',
    label: 'bullmq-otel, no export (spans counted and dropped)',
    export: 'none',
  },
  {
    // Not a telemetry: the part of any propagating instrumentation's cost
    // (jobwatch's and bullmq-otel's alike) that BullMQ and ioredis pay for
    // the ~70 bytes of trace context in every job's options.
    ...PLAIN6,
    id: 'plain6-metadata',
    label: 'plain BullMQ 6, each job carrying a trace context (no telemetry)',
    env: () => ({ BENCH_JOB_METADATA: '1' }),
  },
  // Log correlation: one pino line per job (to /dev/null) in the processor, plain
  // and with jobwatch, with and without the correlation fields on the line.
  {
    ...PLAIN6,
    id: 'plain6-pino',
    label: 'plain BullMQ 6, a pino line per job',
    baseline: 'plain6-pino',
    env: () => ({ BENCH_PINO: '1' }),
  },
  {
    ...JOBWATCH_ON,
    id: 'jobwatch-pino',
    label: 'jobwatch, everything on, a pino line per job with its trace (log correlation)',
    baseline: 'plain6-pino',
    env: plusEnv(JOBWATCH_ON, { BENCH_PINO: '1' }),
  },
  {
    ...JOBWATCH_ON,
    id: 'jobwatch-pino-uncorrelated',
    label:
      'jobwatch, everything on, a pino line per job without its trace (JOBWATCH_LOG_CORRELATION=false)',
    baseline: 'plain6-pino',
    env: plusEnv(JOBWATCH_ON, { BENCH_PINO: '1', JOBWATCH_LOG_CORRELATION: 'false' }),
  },
  { ...PLAIN6, id: 'plain5', label: 'plain BullMQ 5', baseline: 'plain5', bullmq: BULLMQ5 },
  {
    ...PLAIN6,
    id: 'appsignal5',
    label: '@appsignal/opentelemetry-instrumentation-bullmq on BullMQ 5',
    baseline: 'plain5',
    bullmq: BULLMQ5,
    preload: [TELEMETRY],
    env: () => ({ BENCH_TRACES: '1', BENCH_INSTRUMENT: 'appsignal' }),
    traced: true,
    export: 'otlp',
  },
  ...workloadOf('api', 'API-style'),
  // Fixed rate (rate-workload.mjs): jobs arrive at plan.rate per second whatever the
  // telemetry costs; what differs is node CPU per job and the pickup latency.
  ...workloadOf('rate', 'fixed rate'),
  {
    ...BULLMQ_OTEL,
    id: 'sdk-floor',
    label: 'SDK floor: the same spans, inject/extract and records on the stock SDK, no BullMQ',
    baseline: 'sdk-floor',
    telemetryOption: 'none',
    export: undefined,
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
