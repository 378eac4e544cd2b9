// Starting jobwatch in a process: either a whole OpenTelemetry NodeSDK, or,
// when the app already started one, only jobwatch's parts joined to it.

import { createRequire } from 'node:module';
import { join } from 'node:path';
import { isMainThread } from 'node:worker_threads';
import { type DiagLogger, DiagLogLevel, diag, metrics, trace } from '@opentelemetry/api';
import { setGlobalErrorHandler } from '@opentelemetry/core';
import { type Instrumentation, registerInstrumentations } from '@opentelemetry/instrumentation';
import { HttpInstrumentation } from '@opentelemetry/instrumentation-http';
import type { IMetricReader } from '@opentelemetry/sdk-metrics';
import { NodeSDK } from '@opentelemetry/sdk-node';
import type { JobwatchConfig } from './config.js';
import { startHealth } from './health/index.js';
import { BullMQInstrumentation } from './instrumentation/instrumentation.js';
import { describeError, guard, logError, warnRateLimited } from './log.js';
import { createMetricReaders, startMetrics } from './metrics/index.js';
import type { JobwatchRuntime } from './runtime.js';
import { Shutdown } from './shutdown.js';
import { VERSION } from './version.js';

const SHUTDOWN_TIMEOUT_MS = 5000;

/**
 * The OpenTelemetry API keeps its global providers under this symbol; if a
 * tracer provider is there, another SDK (e.g. auto-instrumentations-node's
 * register) was started first and jobwatch must not register a second one.
 */
function otelAlreadyStarted(): boolean {
  const globals = (globalThis as Record<symbol, { trace?: unknown } | undefined>)[
    Symbol.for('opentelemetry.js.api.1')
  ];
  return globals?.trace !== undefined;
}

// With @opentelemetry/auto-instrumentations-node, one SDK serves both, and it
// is the same in either order of the preloads:
//   --require @opentelemetry/auto-instrumentations-node/register --require jobwatch/register
//     its SDK starts first; jobwatch finds it and adds only BullMQ's instrumentation;
//   --require jobwatch/register --require @opentelemetry/auto-instrumentations-node/register
//     jobwatch loads that register itself before deciding, so it starts first
//     here too; Node's module cache makes the later preload a no-op.
// Either way its providers, exporters (OTEL_* variables; metrics default to
// OTLP there) and HTTP/ioredis instrumentations serve the app; jobwatch adds
// BullMQ spans, its metrics and worker health, and BullMQ's own Redis
// commands stay suppressed. (Only the --require form is loaded early: an
// `--import` of the register is an ES module jobwatch cannot run ahead of time.)
const AUTO_REGISTER = '@opentelemetry/auto-instrumentations-node/register';

/** The `--require` preloads of this process (command line and NODE_OPTIONS). */
function requiredPreloads(): string[] {
  const args = [...process.execArgv, ...(process.env.NODE_OPTIONS ?? '').split(/\s+/)];
  const preloads: string[] = [];
  args.forEach((arg, i) => {
    if (arg === '--require' || arg === '-r') preloads.push(args[i + 1] ?? '');
    else if (arg.startsWith('--require=')) preloads.push(arg.slice('--require='.length));
  });
  return preloads;
}

/** Runs the auto-instrumentations' register now if it is a later preload, resolved as Node resolves preloads. */
function startAutoInstrumentationsFirst(): void {
  if (otelAlreadyStarted() || !requiredPreloads().includes(AUTO_REGISTER)) return;
  guard('auto-instrumentations register', () =>
    createRequire(join(process.cwd(), 'preload.js'))(AUTO_REGISTER),
  );
}

/**
 * A BullMQ sandbox: the child process (BullMQ's main.js) or worker thread
 * that runs a processor file. It inherits the preload, and only traces: the
 * metrics port, heartbeats and health belong to the parent that owns the
 * Worker. Any other worker thread is treated the same way (one /metrics port
 * per process, not per thread).
 */
function inSandbox(): boolean {
  return (
    !isMainThread ||
    /[\\/]bullmq[\\/]dist[\\/]cjs[\\/]classes[\\/]main\.js$/.test(process.argv[1] ?? '')
  );
}

export function startJobwatch(config: JobwatchConfig): JobwatchRuntime & {
  instrumentation: BullMQInstrumentation;
} {
  startAutoInstrumentationsFirst();
  const instrumentation = new BullMQInstrumentation({
    processParent: config.processParent,
    traceRedis: config.traceRedis,
    maxChainDepth: config.maxChainDepth,
    captureErrorMessage: config.captureErrorMessage,
    captureJobData: config.captureJobData,
    captureMaxBytes: config.captureMaxBytes,
  });
  const shutdown = new Shutdown(SHUTDOWN_TIMEOUT_MS);
  const sandbox = inSandbox();
  if (otelAlreadyStarted()) {
    joinExistingSdk(instrumentation);
  } else {
    const readers = sandbox ? [] : createMetricReaders(config);
    startOwnSdk([new HttpInstrumentation(), instrumentation], readers, shutdown);
  }
  const runtime = {
    config,
    instrumentation,
    meter: metrics.getMeter('jobwatch', VERSION),
    onShutdown: (fn: () => Promise<void> | void) => shutdown.add(fn),
  };
  // the sandbox's spans are flushed by the instrumentation before BullMQ exits the child
  if (sandbox) return runtime;
  shutdown.install();
  startMetrics(runtime);
  startHealth(runtime);
  return runtime;
}

function joinExistingSdk(instrumentation: Instrumentation): void {
  // The app's SDK keeps its providers, exporters and HTTP instrumentation;
  // jobwatch only adds BullMQ's, on the global providers.
  registerInstrumentations({
    instrumentations: [instrumentation],
    tracerProvider: trace.getTracerProvider(),
    meterProvider: metrics.getMeterProvider(),
  });
}

function startOwnSdk(
  instrumentations: Instrumentation[],
  metricReaders: IMetricReader[],
  shutdown: Shutdown,
): void {
  const sdk = relayingSettingErrors(() => {
    const started = new NodeSDK({
      instrumentations,
      metricReaders,
      // jobwatch emits no logs; the SDK's default would open an OTLP log exporter anyway.
      ...(process.env.OTEL_LOGS_EXPORTER ? {} : { logRecordProcessors: [] }),
    });
    started.start();
    return started;
  });
  setGlobalErrorHandler(reportExportError);
  shutdown.addFinal(() => sdk.shutdown());
}

// An SDK diagnostic that rejects a setting: it names the setting (or only
// "the environment") and says what is wrong with it.
const NAMES_SETTING = /\bOTEL_[A-Z_]+|environment/;
const REJECTS = /\b(invalid|unknown|unrecognized|unsupported|unavailable|could not)\b/i;
/** The OTEL_* settings jobwatch reads (and reports) itself, in src/config.ts. */
const OWN_SETTINGS =
  /\b(OTEL_SDK_DISABLED|OTEL_METRICS_EXPORTER|OTEL_EXPORTER_PROMETHEUS_(HOST|PORT))\b/;

/**
 * The SDK reads most OTEL_* settings itself and reports a value it rejects
 * only through its diagnostic logger, which is silent unless OTEL_LOG_LEVEL
 * is set. While it starts, jobwatch relays its reports of a rejected setting
 * (a few of them say only "environment"), once each, as its own one-line
 * errors; then diag is left as it was.
 */
function relayingSettingErrors<T>(start: () => T): T {
  if (process.env.OTEL_LOG_LEVEL) return start(); // the SDK's own logger says it all
  const relayed = new Set<string>();
  const relay = (message: string) => {
    const rejects = NAMES_SETTING.test(message) && REJECTS.test(message);
    if (!rejects || OWN_SETTINGS.test(message) || relayed.has(message)) return;
    relayed.add(message);
    logError(message);
  };
  const ignore = () => undefined;
  const logger: DiagLogger = {
    error: relay,
    warn: relay,
    info: ignore,
    debug: ignore,
    verbose: ignore,
  };
  diag.setLogger(logger, { logLevel: DiagLogLevel.WARN, suppressOverrideMessage: true });
  try {
    return start();
  } finally {
    diag.disable();
  }
}

/**
 * The SDK reports a failed export (collector down, 429, 500, timeout) through
 * its global error handler, silently by default. Operators need to hear of it,
 * but once, not once per batch: jobs keep running, and the batch processor's
 * bounded queue drops spans rather than growing.
 */
function reportExportError(err: unknown): void {
  const endpoint =
    process.env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT ??
    process.env.OTEL_EXPORTER_OTLP_ENDPOINT ??
    'http://localhost:4318';
  warnRateLimited(
    'export',
    `cannot export telemetry to ${endpoint} (${describeError(err)}); jobs are unaffected, telemetry is dropped until it recovers`,
  );
}
