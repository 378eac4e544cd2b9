// Histograms that cost a bucket search and a few additions per record. The
// SDK's histogram hashes its attribute set on every record (a couple of
// microseconds per job for jobwatch's two); here each series is an object the
// caller holds, and the metric data is made when a reader collects, through
// the preload's SeriesProducer. The exported data is what the SDK's explicit-
// bucket histogram with these boundaries would export: cumulative buckets,
// count, sum, min and max, and only series that were recorded into.
//
// Only the preload's own readers take metric producers, and a producer's data
// goes out as it is made: so cells are used only when every reader jobwatch
// made exports cumulative data. Otherwise (an app's own SDK, or OTLP asked for
// delta) durations are recorded on the SDK's histogram, as before.

import { type Attributes, type Histogram, type Meter, ValueType } from '@opentelemetry/api';
import type { HistogramMetricData } from '@opentelemetry/sdk-metrics';
import type { JobwatchConfig } from '../config.js';
import { core, sdkMetrics } from '../otel-sdk.js';
import type { SeriesProducer } from './series-producer.js';

/** One series of a duration histogram: record into it without naming its attributes again. */
export interface HistogramSeries {
  record(value: number): void;
}

export interface DurationHistogram {
  series(attributes: Attributes): HistogramSeries;
}

export interface HistogramOptions {
  description: string;
  unit: string;
  boundaries: number[];
}

/** The SDK's own histogram: its record hashes the attributes each time. */
class SdkHistogram implements DurationHistogram {
  private readonly histogram: Histogram;

  constructor(meter: Meter, name: string, options: HistogramOptions) {
    this.histogram = meter.createHistogram(name, {
      description: options.description,
      unit: options.unit,
      advice: { explicitBucketBoundaries: options.boundaries },
    });
  }

  series(attributes: Attributes): HistogramSeries {
    const histogram = this.histogram;
    return { record: (value) => histogram.record(value, attributes) };
  }
}

class HistogramCell implements HistogramSeries {
  readonly counts: number[];
  count = 0;
  sum = 0;
  min = Number.POSITIVE_INFINITY;
  max = Number.NEGATIVE_INFINITY;
  readonly startTime = core.hrTime();

  /** `recorded`: where the cell enlists at its first record (so series are exported in the SDK's order). */
  constructor(
    readonly attributes: Attributes,
    private readonly boundaries: number[],
    private readonly recorded: HistogramCell[],
  ) {
    this.counts = new Array<number>(boundaries.length + 1).fill(0);
  }

  record(value: number): void {
    // as the SDK's histogram: negative values are refused, NaN is not counted
    if (!(value >= 0)) return;
    if (this.count === 0) this.recorded.push(this);
    const boundaries = this.boundaries;
    let bucket = 0;
    // the first boundary at or above the value (boundaries are inclusive upper bounds)
    while (bucket < boundaries.length && boundaries[bucket]! < value) bucket++;
    this.counts[bucket]!++;
    this.count++;
    this.sum += value;
    if (value < this.min) this.min = value;
    if (value > this.max) this.max = value;
  }
}

class CellHistogram implements DurationHistogram {
  /** The series recorded into, in the order of their first record. */
  private readonly recorded: HistogramCell[] = [];

  constructor(
    private readonly name: string,
    private readonly options: HistogramOptions,
  ) {}

  series(attributes: Attributes): HistogramSeries {
    return new HistogramCell(attributes, this.options.boundaries, this.recorded);
  }

  metricData(): HistogramMetricData[] {
    const recorded = this.recorded;
    if (recorded.length === 0) return [];
    const now = core.hrTime();
    const boundaries = this.options.boundaries;
    return [
      {
        descriptor: {
          name: this.name,
          description: this.options.description,
          unit: this.options.unit,
          valueType: ValueType.DOUBLE,
        },
        aggregationTemporality: sdkMetrics.AggregationTemporality.CUMULATIVE,
        dataPointType: sdkMetrics.DataPointType.HISTOGRAM,
        dataPoints: recorded.map((cell) => ({
          attributes: cell.attributes,
          startTime: cell.startTime,
          endTime: now,
          value: {
            buckets: { boundaries, counts: [...cell.counts] },
            count: cell.count,
            sum: cell.sum,
            min: cell.min,
            max: cell.max,
          },
        })),
      },
    ];
  }
}

/**
 * Every reader the preload made exports cumulative data: Prometheus and the
 * console always do, OTLP unless OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE
 * asks for delta or lowmemory.
 */
function readersAreCumulative(config: JobwatchConfig): boolean {
  if (!config.metricsExporters.includes('otlp')) return true;
  const preference = core.getStringFromEnv('OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE');
  return preference === undefined || preference.toLowerCase() === 'cumulative';
}

/** Makes jobwatch's duration histograms: cells collected by `producer` where that exports the same data. */
export class DurationHistograms {
  private readonly cells: CellHistogram[] = [];

  constructor(
    private readonly meter: Meter,
    private readonly producer: SeriesProducer | undefined,
    config: JobwatchConfig | undefined,
  ) {
    if (producer !== undefined && config !== undefined && readersAreCumulative(config)) {
      producer.addMetrics(() => this.cells.flatMap((histogram) => histogram.metricData()));
    } else {
      this.producer = undefined;
    }
  }

  create(name: string, options: HistogramOptions): DurationHistogram {
    if (this.producer === undefined) return new SdkHistogram(this.meter, name, options);
    const histogram = new CellHistogram(name, options);
    this.cells.push(histogram);
    return histogram;
  }
}
