// The pull path: @opentelemetry/exporter-prometheus, with one change. The JS
// exporter only appends `_total` to counters, while the Collector (the push
// path) also appends unit suffixes (`_seconds`, `_bytes`, `_ratio`). So that
// a query or an alert rule works on both paths, every scrape renames the
// collected metrics the Collector's way before the exporter serializes them.
// The cost is per scrape and per metric, never per job.

import { PrometheusExporter } from '@opentelemetry/exporter-prometheus';
import {
  type CollectionResult,
  DataPointType,
  type MetricData,
  type ResourceMetrics,
} from '@opentelemetry/sdk-metrics';
import { type PrometheusKind, prometheusName, prometheusUnit } from './prometheus-names.js';

type CollectOptions = Parameters<PrometheusExporter['collect']>[0];

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

  override async collect(options?: CollectOptions): Promise<CollectionResult> {
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
