// The job instruments: what went out, what was processed and how long it took,
// how long jobs waited, and what retried, failed for good or stalled.
//
// Hot path: every hook runs once per job. Series are looked up in Maps keyed
// by (queue, worker name, job name, error type) and built once; a hook then
// costs a few Map lookups, additions and at most two histogram records, each
// into a series held here (histogram-cells.ts).
// Nothing here talks to Redis.
//
// Attributes are bounded: queue, job name, worker name and error.type (the
// exception's class name). Never a job id, payload or error message. Job
// names and error types are the app's own vocabulary, but in case an app
// builds them from data, each is capped and the excess is reported as
// OVERFLOW rather than growing the series set without end; every value is
// capped in length too (label-values.ts).

import type { Attributes, Meter } from '@opentelemetry/api';
import type { AttemptOutcome, JobLike, LifecycleObserver, WorkerLike } from '../lifecycle.js';
import { boundedEntry, CellCounter, type CounterCell } from './counter-cells.js';
import {
  type DurationHistogram,
  DurationHistograms,
  type HistogramSeries,
} from './histogram-cells.js';
import { boundedLabel } from './label-values.js';

export const MAX_JOB_NAMES_PER_QUEUE = 200;
export const MAX_ERROR_TYPES_PER_SERIES = 50;
export const OVERFLOW = '_other';

const SYSTEM = 'bullmq';

/** Seconds; fits jobs from 1 ms to 10 min, with +Inf beyond. */
export const PROCESS_BUCKETS = [
  0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600,
];
/** Seconds; a backlog can hold jobs for longer than any one takes to run. */
export const WAIT_BUCKETS = [...PROCESS_BUCKETS, 1800, 3600];

/** The failure series of one (queue, worker, job name) for one error type. */
interface FailureSeries {
  consumed: CounterCell;
  duration: HistogramSeries;
  retries: CounterCell;
  failed: CounterCell;
}

/** The series of one (queue, worker name, job name). */
interface JobSeries {
  readonly base: Attributes;
  readonly consumed: CounterCell;
  readonly duration: HistogramSeries;
  readonly wait: HistogramSeries;
  readonly waitAttributes: Attributes;
  readonly failures: Map<string, FailureSeries>;
}

/** Everything keyed by one (queue, worker name); shared by that worker's instances. */
interface WorkerSeries {
  readonly queue: string;
  readonly workerName: string;
  readonly byJobName: Map<string, JobSeries>;
  stalled: CounterCell | undefined;
}

/** BullMQ's own rule: a worker without `opts.name` goes by its queue's name. */
export function workerNameOf(worker: WorkerLike): string {
  return worker.opts.name || worker.name;
}

/** True for the attempt that took the job out of the queue for the first time. */
function isFirstStart(job: JobLike): boolean {
  // `attemptsStarted` counts starts after stalls and rate-limit returns too;
  // BullMQ versions without it only have `attemptsMade` (finished attempts).
  return job.attemptsStarted !== undefined ? job.attemptsStarted <= 1 : job.attemptsMade === 0;
}

export class JobMetrics implements LifecycleObserver {
  private readonly sent: CellCounter;
  private readonly consumed: CellCounter;
  private readonly retries: CellCounter;
  private readonly failed: CellCounter;
  private readonly stalled: CellCounter;
  private readonly processDuration: DurationHistogram;
  private readonly waitDuration: DurationHistogram;

  private readonly sentByQueue = new Map<string, Map<string, CounterCell>>();
  private readonly workers = new Map<string, WorkerSeries>();
  private readonly workerOf = new WeakMap<WorkerLike, WorkerSeries>();

  /** `histograms`: where durations are recorded (the SDK's histograms unless given). */
  constructor(meter: Meter, histograms = new DurationHistograms(meter, undefined, undefined)) {
    this.sent = new CellCounter(meter, 'messaging.client.sent.messages', {
      description: 'Messages (jobs) added to a queue; a bulk add counts each job.',
      unit: '{message}',
    });
    this.consumed = new CellCounter(meter, 'messaging.client.consumed.messages', {
      description:
        'Processing attempts that ended; error.type is set when the processor threw (retried or failed).',
      unit: '{message}',
    });
    this.processDuration = histograms.create('messaging.process.duration', {
      description:
        'Duration of one processing attempt, from processor start to the job moved to completed, failed or retry.',
      unit: 's',
      boundaries: PROCESS_BUCKETS,
    });
    this.waitDuration = histograms.create('bullmq.job.wait.duration', {
      description:
        'Time a job waited in the queue, from when it became ready (added, or its delay ended) to the start of its first processing attempt.',
      unit: 's',
      boundaries: WAIT_BUCKETS,
    });
    this.retries = new CellCounter(meter, 'bullmq.job.retries', {
      description: 'Failed attempts after which BullMQ scheduled another attempt.',
      unit: '{retry}',
    });
    this.failed = new CellCounter(meter, 'bullmq.job.failures', {
      description:
        'Jobs that failed for good (attempts exhausted or unrecoverable) and moved to the failed set.',
      unit: '{job}',
    });
    this.stalled = new CellCounter(meter, 'bullmq.job.stalled', {
      description:
        "Stalled jobs (lock lost while active) found by a worker's stall check, labelled with that worker.",
      unit: '{job}',
    });
  }

  jobsSent(queueName: string, jobName: string, count: number): void {
    let byName = this.sentByQueue.get(queueName);
    if (byName === undefined) {
      byName = new Map();
      this.sentByQueue.set(queueName, byName);
    }
    const cell = boundedEntry(byName, jobName, MAX_JOB_NAMES_PER_QUEUE, OVERFLOW, (name) =>
      this.sent.cell({
        'messaging.system': SYSTEM,
        'messaging.operation.name': 'send',
        'messaging.destination.name': boundedLabel(queueName),
        'bullmq.job.name': boundedLabel(name),
      }),
    );
    cell.value += count;
  }

  attemptStarted(worker: WorkerLike, job: JobLike, startedAt: number): void {
    if (!isFirstStart(job)) return;
    // A delayed job (or a scheduler's next run) becomes ready when its delay
    // ends. Retries are left out: Redis keeps no record of when a retry's
    // backoff ended, and a guess would blend backoff into queue wait.
    const readyAt = job.timestamp + (job.opts.delay ?? 0);
    const waited = Math.max(0, startedAt - readyAt) / 1000;
    this.jobSeries(worker, job.name).wait.record(waited);
  }

  attemptEnded(worker: WorkerLike, job: JobLike, outcome: AttemptOutcome, durationMs: number) {
    const series = this.jobSeries(worker, job.name);
    if (outcome.status === 'completed') {
      series.consumed.value++;
      series.duration.record(durationMs / 1000);
      return;
    }
    const failure = this.failureSeries(series, outcome.errorType);
    failure.consumed.value++;
    failure.duration.record(durationMs / 1000);
    if (outcome.status === 'retry') failure.retries.value++;
    else failure.failed.value++;
  }

  jobStalled(worker: WorkerLike): void {
    const series = this.workerSeries(worker);
    series.stalled ??= this.stalled.cell({
      'messaging.destination.name': series.queue,
      'bullmq.worker.name': series.workerName,
    });
    series.stalled.value++;
  }

  private workerSeries(worker: WorkerLike): WorkerSeries {
    const known = this.workerOf.get(worker);
    if (known !== undefined) return known;
    const queue = boundedLabel(worker.name);
    const workerName = boundedLabel(workerNameOf(worker));
    const key = `${queue}\0${workerName}`;
    let series = this.workers.get(key);
    if (series === undefined) {
      series = { queue, workerName, byJobName: new Map(), stalled: undefined };
      this.workers.set(key, series);
    }
    this.workerOf.set(worker, series);
    return series;
  }

  private jobSeries(worker: WorkerLike, jobName: string): JobSeries {
    const { queue, workerName, byJobName } = this.workerSeries(worker);
    return boundedEntry(byJobName, jobName, MAX_JOB_NAMES_PER_QUEUE, OVERFLOW, (name) => {
      const waitAttributes = {
        'messaging.destination.name': queue,
        'bullmq.job.name': boundedLabel(name),
        'bullmq.worker.name': workerName,
      };
      const base = {
        'messaging.system': SYSTEM,
        'messaging.operation.name': 'process',
        ...waitAttributes,
      };
      return {
        base,
        waitAttributes,
        consumed: this.consumed.cell(base),
        duration: this.processDuration.series(base),
        wait: this.waitDuration.series(waitAttributes),
        failures: new Map(),
      };
    });
  }

  private failureSeries(series: JobSeries, errorType: string): FailureSeries {
    return boundedEntry(
      series.failures,
      errorType,
      MAX_ERROR_TYPES_PER_SERIES,
      OVERFLOW,
      (type) => {
        const errorType = boundedLabel(type);
        const attributes = { ...series.waitAttributes, 'error.type': errorType };
        const consumed = { ...series.base, 'error.type': errorType };
        return {
          consumed: this.consumed.cell(consumed),
          duration: this.processDuration.series(consumed),
          retries: this.retries.cell(attributes),
          failed: this.failed.cell(attributes),
        };
      },
    );
  }
}
