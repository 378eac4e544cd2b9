// Preload (`--require bench/telemetry.cjs`) that plays "the app's own
// OpenTelemetry setup" for the traced modes. It is configured by env:
//   BENCH_TRACES=1      a TracerProvider (always-on sampler); every span it ends is counted
//   BENCH_EXPORT        where the spans go: `otlp` (OTLP/HTTP protobuf, the SDK's default),
//                       `otlp-json` (OTLP/HTTP JSON), both to BENCH_OTLP_URL through a
//                       BatchSpanProcessor at its defaults, as an app runs it; `none` (the
//                       default): counted and dropped, no exporter I/O (the "no export" rows)
//   BENCH_RUN_ID        the resource attribute bench.run, by which the receiver counts a run
//   BENCH_METRICS=1     a MeterProvider whose reader collects every BENCH_METRIC_INTERVAL_MS
//   BENCH_INSTRUMENT=appsignal   register @appsignal/opentelemetry-instrumentation-bullmq
// The workload reads the counts back through `globalThis[BENCH_TELEMETRY]`.
const api = require('@opentelemetry/api');
const { AsyncLocalStorageContextManager } = require('@opentelemetry/context-async-hooks');
const {
  CompositePropagator,
  W3CBaggagePropagator,
  W3CTraceContextPropagator,
} = require('@opentelemetry/core');
const { resourceFromAttributes } = require('@opentelemetry/resources');
const { AlwaysOnSampler, BatchSpanProcessor, TracerProvider } = require('@opentelemetry/sdk-trace');
const { CountingSpanExporter } = require('./counting-span-exporter.cjs');

const BENCH_TELEMETRY = Symbol.for('jobwatch.bench.telemetry');

/**
 * The span processors of BENCH_EXPORT. Every span made is counted (the "made"
 * of received ÷ made): by the exporter itself when nothing is exported (a
 * batch processor whose queue never drops, as before), else as it ends,
 * beside the batch processor at its defaults that exports it.
 */
function processors(made) {
  const kind = process.env.BENCH_EXPORT ?? 'none';
  if (kind === 'none') {
    return [
      new BatchSpanProcessor({
        exporter: made,
        maxQueueSize: 1 << 18,
        maxExportBatchSize: 1024,
        scheduledDelayMillis: 500,
      }),
    ];
  }
  const { OTLPTraceExporter } = require(
    kind === 'otlp-json'
      ? '@opentelemetry/exporter-trace-otlp-http'
      : '@opentelemetry/exporter-trace-otlp-proto',
  );
  const exporter = new OTLPTraceExporter({ url: `${process.env.BENCH_OTLP_URL}/v1/traces` });
  const counting = {
    onStart() {},
    onEnd: (span) => made.count(span),
    forceFlush: () => Promise.resolve(),
    shutdown: () => Promise.resolve(),
  };
  return [counting, new BatchSpanProcessor({ exporter })];
}

function startTraces() {
  const made = new CountingSpanExporter();
  // Every span sampled, whatever OTEL_TRACES_SAMPLER says.
  const provider = new TracerProvider({
    sampler: new AlwaysOnSampler(),
    spanProcessors: processors(made),
    resource: resourceFromAttributes({ 'bench.run': process.env.BENCH_RUN_ID ?? '-' }),
  });
  api.context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
  api.propagation.setGlobalPropagator(
    new CompositePropagator({
      propagators: [new W3CTraceContextPropagator(), new W3CBaggagePropagator()],
    }),
  );
  api.trace.setGlobalTracerProvider(provider);
  return async () => {
    await provider.forceFlush();
    return made.summary();
  };
}

function startMetrics() {
  const {
    AggregationTemporality,
    MeterProvider,
    PeriodicExportingMetricReader,
  } = require('@opentelemetry/sdk-metrics');
  const { ExportResultCode } = require('@opentelemetry/core');
  // Collects like a real pipeline would (every interval) and throws the result away.
  const dropExporter = {
    export: (_metrics, done) => done({ code: ExportResultCode.SUCCESS }),
    selectAggregationTemporality: () => AggregationTemporality.CUMULATIVE,
    forceFlush: () => Promise.resolve(),
    shutdown: () => Promise.resolve(),
  };
  const reader = new PeriodicExportingMetricReader({
    exporter: dropExporter,
    exportIntervalMillis: Number(process.env.BENCH_METRIC_INTERVAL_MS ?? 2000),
  });
  api.metrics.setGlobalMeterProvider(new MeterProvider({ readers: [reader] }));
  return async () => totals((await reader.collect()).resourceMetrics);
}

/** metric name -> sum of counter values or histogram counts over all series */
function totals(resourceMetrics) {
  const out = {};
  for (const scope of resourceMetrics.scopeMetrics) {
    for (const metric of scope.metrics) {
      let sum = 0;
      for (const point of metric.dataPoints) {
        sum += typeof point.value === 'number' ? point.value : (point.value.count ?? 0);
      }
      out[metric.descriptor.name] = sum;
    }
  }
  return out;
}

function startInstrumentation(name) {
  if (name !== 'appsignal') throw new Error(`unknown BENCH_INSTRUMENT=${name}`);
  const { registerInstrumentations } = require('@opentelemetry/instrumentation');
  const { BullMQInstrumentation } = require('@appsignal/opentelemetry-instrumentation-bullmq');
  registerInstrumentations({ instrumentations: [new BullMQInstrumentation()] });
}

const handle = {};
if (process.env.BENCH_TRACES === '1') handle.spans = startTraces();
if (process.env.BENCH_METRICS === '1') handle.metrics = startMetrics();
if (process.env.BENCH_INSTRUMENT) startInstrumentation(process.env.BENCH_INSTRUMENT);
globalThis[BENCH_TELEMETRY] = handle;
