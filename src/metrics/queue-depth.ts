// Queue depth: how many jobs each queue holds per state (bullmq.queue.jobs),
// and how long the job next in line has been ready
// (bullmq.queue.oldest_waiting_job.age: it grows while nothing consumes the
// queue, which no duration histogram can show, since those record only when
// a job is picked up).
//
// Which queues: every queue a Queue, Worker or FlowProducer in this process
// uses (read through its backend: src/backends), plus JOBWATCH_QUEUES (under
// JOBWATCH_QUEUE_PREFIX, read through JOBWATCH_REDIS_URL, else through a
// BullMQ connection of this process). A queue stays watched after the objects
// that used it close, read through another connection of this process to the
// same store; only when none is left does it keep its last values.
//
// Every series carries jobwatch.registry (the store and prefix or schema the
// queue lives in), so equal queue names of two environments stay apart.
// Processes reading the same store report the same numbers (within the cache
// time), so dashboards and alerts take `max by (jobwatch_registry,
// messaging_destination_name, bullmq_job_state)`. Turn it off where it adds
// nothing (JOBWATCH_QUEUE_DEPTH=false, e.g. on many API replicas).
//
// The series are produced fresh per collection (series-producer.ts), so the
// SDK's cardinality limit (2,000 series per instrument) never cuts them: up to
// MAX_WATCHED_QUEUES queues, 10 series each. When the app brought its own SDK,
// they are observable gauges on its meter, under that SDK's limit.
//
// Cost: one round trip per queue per collection (on Redis one script: 8 O(1)
// counts and 3 O(1) reads for the oldest job; on PostgreSQL BullMQ's own
// get_counts query and one index lookup), shared by every reader and scrape
// within JOBWATCH_COLLECT_CACHE_MS, and never more than one read per queue in
// flight. A collection waits at most JOBWATCH_COLLECT_TIMEOUT_MS; past that it
// reports the last values it has and counts one bullmq.queue.collection.errors
// per queue not read.
//
// The counts follow Queue.getJobCounts(): lists (wait, paused, active) by
// length, sorted sets by cardinality. BullMQ 5 moves waiting jobs to `paused`
// while a queue is paused; BullMQ 6 keeps them in `wait`, so there `paused`
// stays 0 and they count as waiting, as its getJobCounts() says.

import { type Attributes, context, type Meter } from '@opentelemetry/api';
import { QUEUE_STATES, type QueueRead, type Registry } from '../backends/backend.js';
import type { Backends } from '../backends/router.js';
import { isClosing } from '../bullmq-objects.js';
import type { JobwatchConfig } from '../config.js';
import type { QueueCounts } from '../health/report.js';
import type { LifecycleObserver, QueueUserLike } from '../lifecycle.js';
import { describeError, warnRateLimited } from '../log.js';
import { core } from '../otel-sdk.js';
import { withTimeout } from '../timeout.js';
import { CellCounter, type CounterCell } from './counter-cells.js';
import { boundedLabel } from './label-values.js';
import { type GaugeFamily, observeFamilies, type SeriesProducer } from './series-producer.js';

/** A queue's read still pending after this many collect timeouts is given up, and read anew. */
const READ_ABANDONED_AFTER = 10;

/** Beyond this many queues (e.g. one per tenant), new ones are not watched. */
export const MAX_WATCHED_QUEUES = 1000;

const JOBS = {
  name: 'bullmq.queue.jobs',
  description:
    'Jobs in the queue by state, as Queue.getJobCounts() counts them, read at most once per JOBWATCH_COLLECT_CACHE_MS.',
  unit: '{job}',
};

const OLDEST = {
  name: 'bullmq.queue.oldest_waiting_job.age',
  description:
    'How long the job next in line (waiting or prioritized) has been ready to run: since it was added, its delay ended, or its last attempt began; 0 when none waits. Grows while nothing consumes the queue.',
  unit: 's',
};

/** One queue (in one registry) and what is known of it. */
interface Watched {
  readonly name: string;
  readonly registry: Registry;
  readonly attributes: Attributes;
  readonly stateAttributes: Attributes[];
  readonly errors: CounterCell;
  /** Live BullMQ objects of this process that use the queue. */
  readonly users: Set<QueueUserLike>;
  last: QueueRead | undefined;
  /** The read in flight, shared by every collection until it settles. */
  reading: Promise<ReadOutcome> | undefined;
}

/** `skipped`: nothing to read it with right now; not an error. */
type ReadOutcome = 'read' | 'failed' | 'skipped';

export interface QueueDepthSettings
  extends Pick<JobwatchConfig, 'queues' | 'queuePrefix' | 'collectCacheMs' | 'collectTimeoutMs'> {}

export class QueueDepth implements LifecycleObserver {
  private readonly watched = new Map<string, Watched>();
  private readonly errors: CellCounter;
  private refreshedAt = Number.NEGATIVE_INFINITY;
  private refreshing: Promise<void> | undefined;

  /**
   * `meter`: where the counter (and, without `series`, the gauges) go; a no-op
   * meter where only counts() is wanted. `series`: the preload's producer of
   * fresh series, for the gauges.
   */
  constructor(
    meter: Meter,
    private readonly backends: Backends,
    private readonly settings: QueueDepthSettings,
    series?: SeriesProducer,
  ) {
    this.errors = new CellCounter(
      meter,
      'bullmq.queue.collection.errors',
      {
        description:
          'Queue-depth reads that failed or did not answer within JOBWATCH_COLLECT_TIMEOUT_MS (the last known depth was reported).',
        unit: '{error}',
      },
      () => this.refresh(),
    );
    const families = async () => {
      await this.refresh();
      return this.families();
    };
    if (series) series.add(families);
    else observeFamilies(meter, [JOBS, OLDEST], families);
  }

  queueUsed(user: QueueUserLike): void {
    void this.backends.registryOf(user).then((registry) => {
      if (!registry) {
        warnRateLimited(
          `queue-depth:backend:${user.name}`,
          `queue depth is not reported for queue "${user.name}": jobwatch cannot read its backend`,
        );
        return;
      }
      const queue = this.watch(registry, user.name);
      if (queue === undefined) return;
      // Apps that open a Queue per request must not make this set grow.
      for (const known of queue.users) if (isClosing(known)) queue.users.delete(known);
      queue.users.add(user);
    });
  }

  /**
   * Jobs per queue and state, from the same cached, bounded read that serves
   * the gauges (for /health/queues and the CLI); queues not read yet are left
   * out. A name used in two registries is keyed `name@registry`.
   */
  async counts(): Promise<QueueCounts> {
    await this.refresh();
    const read = [...this.watched.values()].filter((q) => q.last !== undefined);
    const names = new Map<string, number>();
    for (const q of read) names.set(q.name, (names.get(q.name) ?? 0) + 1);
    const out: QueueCounts = {};
    for (const queue of read) {
      const key = names.get(queue.name)! > 1 ? `${queue.name}@${queue.registry.scope}` : queue.name;
      out[key] = Object.fromEntries(
        QUEUE_STATES.map((state, i) => [state, queue.last!.counts[i]!]),
      );
    }
    return out;
  }

  private families(): GaugeFamily[] {
    const jobs: GaugeFamily = { ...JOBS, points: [] };
    const oldest: GaugeFamily = { ...OLDEST, points: [] };
    for (const queue of this.watched.values()) {
      const last = queue.last;
      if (last === undefined) continue;
      last.counts.forEach((value, i) => {
        jobs.points.push({ value, attributes: queue.stateAttributes[i]! });
      });
      oldest.points.push({ value: last.oldestWaitingMs / 1000, attributes: queue.attributes });
    }
    return [jobs, oldest];
  }

  private watch(registry: Registry, name: string): Watched | undefined {
    const key = `${registry.key}\u0000${name}`;
    let queue = this.watched.get(key);
    if (queue !== undefined) return queue;
    if (this.watched.size >= MAX_WATCHED_QUEUES) {
      warnRateLimited(
        'queue-depth:too-many',
        `queue depth is reported for the first ${MAX_WATCHED_QUEUES} queues only; "${name}" is not watched`,
      );
      return undefined;
    }
    const attributes = {
      'jobwatch.registry': boundedLabel(registry.scope),
      'messaging.destination.name': boundedLabel(name),
    };
    queue = {
      name,
      registry,
      attributes,
      stateAttributes: QUEUE_STATES.map((state) => ({ ...attributes, 'bullmq.job.state': state })),
      errors: this.errors.cell(attributes),
      users: new Set(),
      last: undefined,
      reading: undefined,
    };
    this.watched.set(key, queue);
    return queue;
  }

  /** JOBWATCH_QUEUES, in the registry of JOBWATCH_REDIS_URL or of a connection the app opened. */
  private watchConfigured(): void {
    if (this.settings.queues.length === 0) return;
    const registry = this.backends.queueRegistry(this.settings.queuePrefix);
    if (!registry) {
      warnRateLimited(
        'queue-depth:no-redis',
        'JOBWATCH_QUEUES: no Redis to read them from yet (set JOBWATCH_REDIS_URL, or use BullMQ in this process)',
      );
      return;
    }
    for (const name of this.settings.queues) this.watch(registry, name);
  }

  /** One bounded refresh at a time, and none while the last one is fresh enough. */
  private refresh(): Promise<void> {
    if (this.refreshing) return this.refreshing;
    if (Date.now() - this.refreshedAt < this.settings.collectCacheMs) return Promise.resolve();
    this.refreshing = this.readAll().finally(() => {
      this.refreshedAt = Date.now();
      this.refreshing = undefined;
    });
    return this.refreshing;
  }

  /** Reads every queue at once; counts one error per queue not read in time. */
  private async readAll(): Promise<void> {
    this.watchConfigured();
    const queues = [...this.watched.values()];
    const outcomes: (ReadOutcome | undefined)[] = queues.map(() => undefined);
    const reads = queues.map((queue, i) => {
      queue.reading ??= this.read(queue);
      return queue.reading.then((outcome) => {
        outcomes[i] = outcome;
      });
    });
    await withTimeout(Promise.all(reads), this.settings.collectTimeoutMs, 'queue depth').catch(
      () => undefined, // what is still pending counts as failed below
    );
    for (let i = 0; i < queues.length; i++) {
      if (outcomes[i] === undefined || outcomes[i] === 'failed') queues[i]!.errors.value++;
    }
  }

  private read(queue: Watched): Promise<ReadOutcome> {
    for (const user of queue.users) if (isClosing(user)) queue.users.delete(user);
    const reading = context.with(core.suppressTracing(context.active()), () =>
      queue.registry.readQueue(queue.name, queue.users),
    );
    // A read may outlive a collection (a slow store still updates the next one), but one
    // that never settles (a connection that went silent) must not hold the queue forever.
    return withTimeout(reading, READ_ABANDONED_AFTER * this.settings.collectTimeoutMs, 'the read')
      .then(
        (read): ReadOutcome => {
          if (read === undefined) return 'skipped';
          queue.last = read;
          return 'read';
        },
        (err: unknown): ReadOutcome => {
          warnRateLimited(
            `queue-depth:${queue.registry.key}:${queue.name}`,
            `cannot read the depth of queue "${queue.name}": ${describeError(err)}`,
          );
          return 'failed';
        },
      )
      .finally(() => {
        queue.reading = undefined;
      });
  }
}
