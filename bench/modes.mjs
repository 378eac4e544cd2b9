// The benchmark's modes. Each runs the same workload (workload.mjs) in its own
// fresh node process; a mode only decides how that process is started.
import { fileURLToPath } from 'node:url';

const here = (file) => fileURLToPath(new URL(file, import.meta.url));
const TELEMETRY = here('./telemetry.cjs');
// Resolved through the package's own exports map, as a user's app would.
const JOBWATCH = 'jobwatch/register';
const BULLMQ5 = here('../test/bullmq5/node_modules/bullmq');

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
 * @property {'none'|'reader'|'prometheus'} metrics where the mode's metrics are read back from
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
    // (src/sdk.ts, "Existing setup" in issue 2): its spans reach the counting
    // exporter and its metrics the same collecting reader bullmq-otel's do.
    preload: [TELEMETRY, JOBWATCH],
    env: (ports) => ({ BENCH_TRACES: '1', BENCH_METRICS: '1', ...jobwatchEnv(ports) }),
    telemetryOption: 'none',
    traced: true,
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
    metrics: 'none',
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
