// Starting jobwatch in a process: either a whole OpenTelemetry NodeSDK, or,
// when the app already started one, only jobwatch's parts joined to it.

import { metrics, trace } from '@opentelemetry/api';
import type { Instrumentation, InstrumentationBase } from '@opentelemetry/instrumentation';
import type { IMetricReader } from '@opentelemetry/sdk-metrics';
import { NodeSDK } from '@opentelemetry/sdk-node';
import type { JobwatchConfig } from '../config.js';
import type { HealthOptions } from '../health/index.js';
import { HttpTracing } from '../http/http-tracing.js';
import { BullMQInstrumentation } from '../instrumentation/instrumentation.js';
import { LogCorrelation } from '../logs/log-instrumentation.js';
import { createMetricReaders } from '../metrics/index.js';
import { SeriesProducer } from '../metrics/series-producer.js';
import { core, otelInstrumentation } from '../otel-sdk.js';
import { VERSION } from '../version.js';
import { registerEsmHooks } from './esm-hooks.js';
import { startRuntime } from './runtime.js';
import { inSandbox, otelAlreadyStarted, startAutoInstrumentationsFirst } from './sdk-detect.js';
import { relayingSettingErrors, reportExportError } from './sdk-diagnostics.js';
import { Shutdown } from './shutdown.js';

const SHUTDOWN_TIMEOUT_MS = 5000;

/** Starts jobwatch in this process: the SDK (or jobwatch's part in the app's), then its runtime. */
export function startJobwatch(config: JobwatchConfig, health: HealthOptions = {}): void {
  startAutoInstrumentationsFirst();
  const instrumentation = new BullMQInstrumentation({
    processParent: config.processParent,
    traceRedis: config.traceRedis,
    maxChainDepth: config.maxChainDepth,
    bulkCreateSpans: config.bulkCreateSpans,
    captureErrorMessage: config.captureErrorMessage,
    captureJobData: config.captureJobData,
    captureMaxBytes: config.captureMaxBytes,
    captureJobLogs: config.captureJobLogs,
  });
  const shutdown = new Shutdown(SHUTDOWN_TIMEOUT_MS);
  const sandbox = inSandbox();
  const instrumentations: Instrumentation[] = [instrumentation];
  if (config.logCorrelation) instrumentations.push(new LogCorrelation());
  let series: SeriesProducer | undefined;
  if (otelAlreadyStarted()) {
    joinExistingSdk(instrumentations);
  } else {
    series = new SeriesProducer();
    const readers = sandbox ? [] : createMetricReaders(config, [series]);
    instrumentations.unshift(new HttpTracing(config.requestIdHeader));
    startOwnSdk(instrumentations, readers, shutdown);
  }
  registerEsmHooks(hookedModules(instrumentations));
  // the sandbox's spans are flushed by the instrumentation before BullMQ exits the child
  if (sandbox) return;
  shutdown.install();
  startRuntime(
    {
      config,
      instrumentation,
      meter: metrics.getMeter('jobwatch', VERSION),
      series,
      onShutdown: (fn) => shutdown.add(fn),
    },
    health,
  );
}

function hookedModules(instrumentations: Instrumentation[]): string[] {
  return instrumentations.flatMap(
    (i) => (i as Partial<InstrumentationBase>).getModuleDefinitions?.().map((d) => d.name) ?? [],
  );
}

function joinExistingSdk(instrumentations: Instrumentation[]): void {
  // The app's SDK keeps its providers, exporters and HTTP instrumentation;
  // jobwatch only adds BullMQ's (and the log correlation), on the global providers.
  otelInstrumentation.registerInstrumentations({
    instrumentations,
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
  core.setGlobalErrorHandler(reportExportError);
  shutdown.addFinal(() => sdk.shutdown());
}
