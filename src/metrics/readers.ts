// Which metric readers the preload installs, from OTEL_METRICS_EXPORTER with
// its standard meanings. jobwatch's default is `prometheus` (the SDK's own is
// `otlp`), because the ops bundle scrapes /metrics.

import type { IMetricReader, MetricProducer, PushMetricExporter } from '@opentelemetry/sdk-metrics';
import type { JobwatchConfig, MetricsExporterName } from '../config.js';
import { describeError, logError } from '../log.js';
import { core, otlpMetricExporter, sdkMetrics } from '../otel-sdk.js';
import { SuffixingPrometheusExporter } from './prometheus-exporter.js';

// The SDK's defaults for OTEL_METRIC_EXPORT_INTERVAL / _TIMEOUT.
const EXPORT_INTERVAL_MS = 60_000;
const EXPORT_TIMEOUT_MS = 30_000;

function positiveFromEnv(name: string, fallback: number): number {
  const value = core.getNumberFromEnv(name);
  return value !== undefined && value > 0 ? value : fallback;
}

function periodic(exporter: PushMetricExporter, metricProducers: MetricProducer[]): IMetricReader {
  const exportIntervalMillis = positiveFromEnv('OTEL_METRIC_EXPORT_INTERVAL', EXPORT_INTERVAL_MS);
  const exportTimeoutMillis = Math.min(
    positiveFromEnv('OTEL_METRIC_EXPORT_TIMEOUT', EXPORT_TIMEOUT_MS),
    exportIntervalMillis,
  );
  return new sdkMetrics.PeriodicExportingMetricReader({
    exporter,
    exportIntervalMillis,
    exportTimeoutMillis,
    metricProducers,
  });
}

function prometheus(config: JobwatchConfig, metricProducers: MetricProducer[]): IMetricReader {
  // `localhost` means the loopback interface; binding the IPv4 loopback lets
  // both `localhost:9464` and `127.0.0.1:9464` scrape it (binding whatever
  // `localhost` resolves to first may give ::1 only).
  const host = config.prometheusHost === 'localhost' ? '127.0.0.1' : config.prometheusHost;
  const port = config.prometheusPort;
  return new SuffixingPrometheusExporter({ host, port, metricProducers }, (err) => {
    if (err) {
      logError(
        `OTEL_EXPORTER_PROMETHEUS_HOST=${config.prometheusHost} OTEL_EXPORTER_PROMETHEUS_PORT=${port}: cannot serve /metrics on ${host}:${port} (${describeError(err)}); metrics are not exported by this process`,
      );
    }
  });
}

/** The OTLP exporter for OTEL_EXPORTER_OTLP_(METRICS_)PROTOCOL, http/protobuf by default as the spec says. */
function otlpExporter(): PushMetricExporter {
  const setting = core.getStringFromEnv('OTEL_EXPORTER_OTLP_METRICS_PROTOCOL')
    ? 'OTEL_EXPORTER_OTLP_METRICS_PROTOCOL'
    : 'OTEL_EXPORTER_OTLP_PROTOCOL';
  const protocol = core.getStringFromEnv(setting) ?? 'http/protobuf';
  if (protocol === 'grpc' || protocol === 'http/json' || protocol === 'http/protobuf') {
    return new (otlpMetricExporter(protocol))();
  }
  logError(
    `invalid ${setting}=${JSON.stringify(protocol)}: expected grpc, http/protobuf or http/json; using "http/protobuf"`,
  );
  return new (otlpMetricExporter('http/protobuf'))();
}

function reader(
  name: Exclude<MetricsExporterName, 'none'>,
  config: JobwatchConfig,
  producers: MetricProducer[],
) {
  switch (name) {
    case 'prometheus':
      return prometheus(config, producers);
    case 'otlp':
      // OTEL_EXPORTER_OTLP_(METRICS_)ENDPOINT / _HEADERS / _TEMPORALITY_PREFERENCE apply.
      return periodic(otlpExporter(), producers);
    case 'console':
      return periodic(new sdkMetrics.ConsoleMetricExporter(), producers);
  }
}

/** `producers`: series collected beside the SDK's instruments (see series-producer.ts). */
export function createMetricReaders(
  config: JobwatchConfig,
  producers: MetricProducer[] = [],
): IMetricReader[] {
  if (config.metricsExporters.includes('none')) return [];
  return config.metricsExporters.map((name) =>
    reader(name as Exclude<typeof name, 'none'>, config, producers),
  );
}
