// The OpenTelemetry SDK packages jobwatch uses beside the NodeSDK (core,
// sdk-metrics, the metric exporters, the instrumentation base class), loaded
// as the NodeSDK itself resolves them. The NodeSDK pins exact versions of its
// family; a range of jobwatch's own would install a second copy whenever a
// newer patch is out, and two copies mean two global error handlers (export
// errors unseen) and two sets of module hooks. jobwatch's only dependency is
// therefore @opentelemetry/sdk-node, as a range that dedupes with an app's own.

import { createRequire } from 'node:module';

type Core = typeof import('@opentelemetry/core');
type SdkMetrics = typeof import('@opentelemetry/sdk-metrics');
type Prometheus = typeof import('@opentelemetry/exporter-prometheus');
type OtlpMetrics = typeof import('@opentelemetry/exporter-metrics-otlp-http');
type InstrumentationModule = typeof import('@opentelemetry/instrumentation');

const fromSdk = createRequire(require.resolve('@opentelemetry/sdk-node'));

export const core = fromSdk('@opentelemetry/core') as Core;
export const sdkMetrics = fromSdk('@opentelemetry/sdk-metrics') as SdkMetrics;
export const prometheus = fromSdk('@opentelemetry/exporter-prometheus') as Prometheus;
export const otelInstrumentation = fromSdk(
  '@opentelemetry/instrumentation',
) as InstrumentationModule;
export const {
  InstrumentationBase,
  InstrumentationNodeModuleDefinition,
  InstrumentationNodeModuleFile,
  isWrapped,
} = otelInstrumentation;

const OTLP_METRICS_PACKAGES = {
  grpc: '@opentelemetry/exporter-metrics-otlp-grpc',
  'http/json': '@opentelemetry/exporter-metrics-otlp-http',
  'http/protobuf': '@opentelemetry/exporter-metrics-otlp-proto',
} as const;

/** The OTLP metric exporter class for `protocol`, loaded only when used (gRPC's is heavy). */
export function otlpMetricExporter(
  protocol: keyof typeof OTLP_METRICS_PACKAGES,
): OtlpMetrics['OTLPMetricExporter'] {
  return (fromSdk(OTLP_METRICS_PACKAGES[protocol]) as OtlpMetrics).OTLPMetricExporter;
}
