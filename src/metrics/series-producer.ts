// Gauges whose series come and go (one per worker name, per state): produced
// fresh at every collection, so a series not reported now is gone from
// /metrics now. The SDK's observable gauges cannot do that: with cumulative
// temporality they keep exporting the last value of every series they ever saw.
// The preload hands this producer to the metric readers it creates; when the
// app brings its own SDK, health falls back to observable gauges.

import { type Attributes, type Meter, ValueType } from '@opentelemetry/api';
import type { CollectionResult, MetricData, MetricProducer } from '@opentelemetry/sdk-metrics';
import { core, sdkMetrics } from '../otel-sdk.js';
import { VERSION } from '../version.js';

export interface GaugeFamily {
  name: string;
  description: string;
  unit: string;
  points: { value: number; attributes: Attributes }[];
}

export type GaugeSource = () => Promise<GaugeFamily[]>;

/** Metric data made whole by its owner (e.g. jobwatch's histogram cells, histogram-cells.ts). */
export type MetricSource = () => MetricData[];

export class SeriesProducer implements MetricProducer {
  private readonly sources: GaugeSource[] = [];
  private readonly metricSources: MetricSource[] = [];

  add(source: GaugeSource): void {
    this.sources.push(source);
  }

  addMetrics(source: MetricSource): void {
    this.metricSources.push(source);
  }

  async collect(): Promise<CollectionResult> {
    const families = (await Promise.all(this.sources.map((source) => source()))).flat();
    const now = core.hrTime();
    const metrics: MetricData[] = families
      .filter((family) => family.points.length > 0)
      .map((family) => ({
        descriptor: {
          name: family.name,
          description: family.description,
          unit: family.unit,
          valueType: ValueType.DOUBLE,
        },
        aggregationTemporality: sdkMetrics.AggregationTemporality.CUMULATIVE,
        dataPointType: sdkMetrics.DataPointType.GAUGE,
        dataPoints: family.points.map(({ value, attributes }) => ({
          startTime: now,
          endTime: now,
          attributes,
          value,
        })),
      }));
    for (const source of this.metricSources) metrics.push(...source());
    return {
      resourceMetrics: {
        resource: undefined as never, // the reader uses the SDK's resource instead
        scopeMetrics:
          metrics.length > 0 ? [{ scope: { name: 'jobwatch', version: VERSION }, metrics }] : [],
      },
      errors: [],
    };
  }
}

/**
 * Where no producer serves (the app brought its own SDK): the same families
 * as observable gauges on its meter, one per shape. These keep exporting a
 * series once seen, and fall under that SDK's cardinality limit.
 */
export function observeFamilies(
  meter: Meter,
  shapes: Pick<GaugeFamily, 'name' | 'description' | 'unit'>[],
  families: GaugeSource,
): void {
  const gauges = new Map(
    shapes.map((f) => [
      f.name,
      meter.createObservableGauge(f.name, { description: f.description, unit: f.unit }),
    ]),
  );
  meter.addBatchObservableCallback(
    async (result) => {
      for (const family of await families()) {
        const gauge = gauges.get(family.name);
        if (!gauge) continue;
        for (const point of family.points) result.observe(gauge, point.value, point.attributes);
      }
    },
    [...gauges.values()],
  );
}
