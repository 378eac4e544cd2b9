// jobwatch's duration histograms record into series of their own and are
// exported through the preload's metric producer: what a reader collects must
// be what the SDK's own explicit-bucket histogram gives for the same records.
import { afterEach, describe, expect, it } from 'vitest';
import type { JobwatchConfig } from '../../src/config.js';
import { DurationHistograms } from '../../src/metrics/histogram-cells.js';
import { SeriesProducer } from '../../src/metrics/series-producer.js';
import { sdkMetrics } from '../../src/otel-sdk.js';

class Reader extends sdkMetrics.MetricReader {
  protected override async onForceFlush() {}
  protected override async onShutdown() {}
}

const BOUNDARIES = [0.001, 0.01, 0.1, 1];
const VALUES = [0, 0.0005, 0.001, 0.0010001, 0.05, 0.1, 3, 1e9, -1, 0.01];
const config = (exporters: string[]) => ({ metricsExporters: exporters }) as JobwatchConfig;

let providers: { shutdown(): Promise<void> }[] = [];
afterEach(async () => {
  await Promise.all(providers.map((p) => p.shutdown()));
  providers = [];
  delete process.env.OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE;
});

/** Records VALUES into two series and returns the collected histogram points. */
async function collected(withProducer: boolean, exporters = ['prometheus']) {
  const producer = new SeriesProducer();
  const reader = new Reader({ metricProducers: withProducer ? [producer] : [] });
  const provider = new sdkMetrics.MeterProvider({ readers: [reader] });
  providers.push(provider);
  const meter = provider.getMeter('jobwatch');
  const histograms = new DurationHistograms(
    meter,
    withProducer ? producer : undefined,
    config(exporters),
  );
  const histogram = histograms.create('messaging.process.duration', {
    description: 'd',
    unit: 's',
    boundaries: BOUNDARIES,
  });
  const never = histogram.series({ job: 'never' });
  const b = histogram.series({ job: 'b' });
  const a = histogram.series({ job: 'a' });
  for (const v of VALUES) a.record(v);
  b.record(0.2);
  expect(never).toBeDefined();
  const { resourceMetrics } = await reader.collect();
  const metrics = resourceMetrics.scopeMetrics.flatMap((s) => s.metrics);
  return metrics.map((m) => ({
    name: m.descriptor.name,
    unit: m.descriptor.unit,
    temporality: m.aggregationTemporality,
    type: m.dataPointType,
    points: m.dataPoints.map((p) => ({ attributes: p.attributes, value: p.value })),
  }));
}

describe('duration histograms', () => {
  it("export, through the producer, what the SDK's histogram exports", async () => {
    const own = await collected(true);
    expect(own).toEqual(await collected(false));
    expect(own[0]!.points.map((p) => p.attributes.job)).toEqual(['a', 'b']);
  });

  it("stay the SDK's histograms when an OTLP reader asks for delta", async () => {
    process.env.OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE = 'delta';
    const producer = new SeriesProducer();
    const reader = new Reader({ metricProducers: [producer] });
    const provider = new sdkMetrics.MeterProvider({ readers: [reader] });
    providers.push(provider);
    const histograms = new DurationHistograms(provider.getMeter('j'), producer, config(['otlp']));
    histograms
      .create('h', { description: '', unit: 's', boundaries: BOUNDARIES })
      .series({})
      .record(1);
    expect((await producer.collect()).resourceMetrics.scopeMetrics).toEqual([]);
    const { resourceMetrics } = await reader.collect();
    expect(resourceMetrics.scopeMetrics[0]!.metrics[0]!.descriptor.name).toBe('h');
  });
});
