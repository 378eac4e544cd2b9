// Preload (`--require bench/telemetry.cjs`) that plays "the app's own
// OpenTelemetry setup" for the traced modes. It is configured by env:
//   BENCH_TRACES=1      a TracerProvider (always-on sampler) exporting to the counting exporter
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
const { AlwaysOnSampler, BatchSpanProcessor, TracerProvider } = require('@opentelemetry/sdk-trace');
const { CountingSpanExporter } = require('./counting-span-exporter.cjs');

const BENCH_TELEMETRY = Symbol.for('jobwatch.bench.telemetry');

function startTraces() {
  const exporter = new CountingSpanExporter();
  // A queue big enough that no span of a run is dropped: the counts verify the mode.
  const processor = new BatchSpanProcessor({
    exporter,
    maxQueueSize: 1 << 18,
    maxExportBatchSize: 1024,
    scheduledDelayMillis: 500,
  });
  // Every span sampled, whatever OTEL_TRACES_SAMPLER says.
  const provider = new TracerProvider({
    sampler: new AlwaysOnSampler(),
    spanProcessors: [processor],
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
    return exporter.summary();
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
