// Queue depth for /health/queues and the CLI, read by the metrics part's own
// collector (src/metrics/queue-depth.ts: same keys, cache, timeout and
// failure rules as bullmq.queue.jobs) through a private metric reader, so
// there is one implementation of "how many jobs are in this queue".

import { MeterProvider, MetricReader } from '@opentelemetry/sdk-metrics';
import type { JobwatchConfig } from '../config.js';
import type { QueueCounts } from '../health/report.js';
import type { QueueUserLike } from '../lifecycle.js';
import { QueueDepth } from '../metrics/queue-depth.js';

class PullReader extends MetricReader {
  protected async onShutdown(): Promise<void> {}
  protected async onForceFlush(): Promise<void> {}
}

export class QueueCountsReader {
  private readonly reader = new PullReader();
  private readonly provider = new MeterProvider({ readers: [this.reader] });
  private readonly depth: QueueDepth;

  constructor(config: JobwatchConfig) {
    this.depth = new QueueDepth(this.provider.getMeter('jobwatch-health'), config);
  }

  /** Learns a queue this process uses (forwarded from the lifecycle hooks). */
  queueUsed(user: QueueUserLike): void {
    this.depth.queueUsed(user);
  }

  /** Counts per queue and state; queues whose depth is unknown yet are left out. */
  async counts(): Promise<QueueCounts> {
    const { resourceMetrics } = await this.reader.collect();
    const out: QueueCounts = {};
    for (const scope of resourceMetrics.scopeMetrics) {
      for (const metric of scope.metrics) {
        if (metric.descriptor.name !== 'bullmq.queue.jobs') continue;
        for (const point of metric.dataPoints) {
          const queue = String(point.attributes['messaging.destination.name']);
          const state = String(point.attributes['bullmq.job.state']);
          out[queue] ??= {};
          out[queue][state] = Number(point.value);
        }
      }
    }
    return out;
  }

  async close(): Promise<void> {
    await this.depth.close();
    await this.provider.shutdown();
  }
}
