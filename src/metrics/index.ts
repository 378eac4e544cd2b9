// jobwatch's metrics: the job instruments (fed by the lifecycle hooks), the
// worker gauges (from worker health's view) and the queue-depth gauge,
// recorded on the meter the SDK wiring hands over.
//
// No double counting with BullMQ's own metrics: if an app also passes a meter
// in BullMQ's `telemetry` option, BullMQ records its own instruments
// (bullmq.jobs.completed / .failed / .delayed / .retried / .waiting /
// .waiting_children, bullmq.job.duration in ms, and bullmq.queue.jobs only when
// the app calls queue.recordJobCountsMetric()). None of jobwatch's job
// instruments shares a name with those, so each series is counted once, by its
// own instrument. The one shared name is bullmq.queue.jobs: BullMQ's carries
// `bullmq.queue.name` and `bullmq.queue.jobs.state` (and its own meter's
// scope), jobwatch's carries `messaging.destination.name` and `bullmq.job.state`
// (scope `jobwatch`), so a query that selects on jobwatch's labels, e.g.
// `bullmq_queue_jobs{bullmq_job_state="waiting"}`, never adds the two up.

import type { Meter } from '@opentelemetry/api';
import type { JobwatchConfig } from '../config.js';
import type { LifecycleObserver } from '../lifecycle.js';
import { DurationHistograms } from './histogram-cells.js';
import { JobMetrics } from './job-metrics.js';
import type { SeriesProducer } from './series-producer.js';

export { createMetricReaders } from './readers.js';

/** The job instruments, as a lifecycle observer. */
export function jobMetrics(
  meter: Meter,
  series: SeriesProducer | undefined,
  config: JobwatchConfig,
): LifecycleObserver {
  return new JobMetrics(meter, new DurationHistograms(meter, series, config));
}
