// The pull path: @opentelemetry/exporter-prometheus, with one change. The JS
// exporter only appends `_total` to counters, while the Collector (the push
// path) also appends unit suffixes (`_seconds`, `_bytes`, `_ratio`). So that
// a query or an alert rule works on both paths, every scrape renames the
// collected metrics the Collector's way before the exporter serializes them.
// The cost is per scrape and per metric, never per job, and scrapes that
// arrive together (a storm of them, or several Prometheus replicas) share one
// collection and one serialized text.

import type { Server } from 'node:http';
import type { CollectionResult, MetricData, ResourceMetrics } from '@opentelemetry/sdk-metrics';
import { untraced } from '../http/untraced.js';
import { prometheus, sdkMetrics } from '../otel-sdk.js';
import { type PrometheusKind, prometheusName, prometheusUnit } from './prometheus-names.js';

const { PrometheusExporter } = prometheus;
type PrometheusExporter = InstanceType<typeof PrometheusExporter>;
const { DataPointType } = sdkMetrics;
type CollectOptions = Parameters<PrometheusExporter['collect']>[0];
type Serializer = { serialize(metrics: ResourceMetrics): string };

/**
 * The exporter serializes once per request, even for requests answered from
 * one shared collection; this makes them share the text too. (Its serializer
 * is not public API: if a later version renames it, scrapes are merely
 * serialized one by one again.)
 */
function shareSerialization(exporter: PrometheusExporter): void {
  const serializer = (exporter as unknown as { _serializer?: Serializer })._serializer;
  if (typeof serializer?.serialize !== 'function') return;
  const serialize = serializer.serialize.bind(serializer);
  const texts = new WeakMap<ResourceMetrics, string>();
  serializer.serialize = (metrics) => {
    let text = texts.get(metrics);
    if (text === undefined) {
      text = serialize(metrics);
      texts.set(metrics, text);
    }
    return text;
  };
}

function kindOf(metric: MetricData): PrometheusKind {
  switch (metric.dataPointType) {
    case DataPointType.SUM:
      return metric.isMonotonic ? 'counter' : 'updown';
    case DataPointType.GAUGE:
      return 'gauge';
    default:
      return 'histogram';
  }
}

export class SuffixingPrometheusExporter extends PrometheusExporter {
  /** Translated descriptors by (name, unit, kind): the set of metrics is small and fixed. */
  private readonly descriptors = new Map<string, MetricData['descriptor']>();
  private collecting: Promise<CollectionResult> | undefined;

  constructor(...args: ConstructorParameters<typeof PrometheusExporter>) {
    super(...args);
    shareSerialization(this);
    // The exporter's server is not public API; without it, scrapes are merely traced.
    const server = (this as unknown as { _server?: Server })._server;
    if (server) untraced(server);
  }

  /**
   * Scrapes that arrive together share one collection: the first waits for
   * the end of the current I/O phase (setImmediate), so that every request
   * read in that phase joins it. Without this, a storm of parallel scrapes
   * runs one collection and serialization per request, back to back on the
   * app's event loop (50 scrapes stalled it for over 100 ms).
   */
  override collect(options?: CollectOptions): Promise<CollectionResult> {
    if (options !== undefined) return this.collectRenamed(options);
    this.collecting ??= new Promise((resolve) => setImmediate(resolve))
      .then(() => this.collectRenamed())
      .finally(() => {
        this.collecting = undefined;
      });
    return this.collecting;
  }

  private async collectRenamed(options?: CollectOptions): Promise<CollectionResult> {
    const result = await super.collect(options);
    return { ...result, resourceMetrics: this.renamed(result.resourceMetrics) };
  }

  private renamed(resourceMetrics: ResourceMetrics): ResourceMetrics {
    return {
      ...resourceMetrics,
      scopeMetrics: resourceMetrics.scopeMetrics.map((scope) => ({
        ...scope,
        metrics: scope.metrics.map((metric) => ({
          ...metric,
          descriptor: this.descriptorFor(metric),
        })),
      })),
    };
  }

  private descriptorFor(metric: MetricData): MetricData['descriptor'] {
    const { name, unit } = metric.descriptor;
    const kind = kindOf(metric);
    const key = `${name}\0${unit}\0${kind}`;
    let descriptor = this.descriptors.get(key);
    if (descriptor === undefined) {
      // The `# UNIT` line then names the same unit the name ends with, as
      // OpenMetrics wants (and says nothing for `{job}`-style counts).
      descriptor = {
        ...metric.descriptor,
        name: prometheusName(name, unit, kind),
        unit: prometheusUnit(unit),
      };
      this.descriptors.set(key, descriptor);
    }
    return descriptor;
  }
}
