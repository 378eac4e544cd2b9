// bullmq.queue.jobs: how many jobs each queue holds, per state.
//
// Which queues: every queue a Queue, Worker or FlowProducer in this process
// uses (read through its backend: src/backends), plus JOBWATCH_QUEUES (under
// JOBWATCH_QUEUE_PREFIX, read through JOBWATCH_REDIS_URL, else through a
// BullMQ connection of this process). A queue stays watched after the objects
// that used it close, read through another connection of this process to the
// same store; only when none is left does its gauge keep its last values (the
// SDK keeps cumulative series once seen).
//
// Which processes: every process with queue depth on (JOBWATCH_QUEUE_DEPTH,
// default true) reports the queues it knows, one series per (queue, state).
// Processes reading the same Redis report the same numbers (within the cache
// time), so dashboards and alerts take `max by (messaging_destination_name,
// bullmq_job_state)`. Turn it off where it adds nothing (e.g. many API replicas).
//
// Cost: one round trip per queue per collection (on Redis one script of 8 O(1)
// commands, LLEN/ZCARD), shared by every reader and scrape within JOBWATCH_COLLECT_CACHE_MS,
// and never more than one read per queue in flight. A collection waits at most
// JOBWATCH_COLLECT_TIMEOUT_MS for Redis; past that it reports the last values
// it has and counts one bullmq.queue.collection.errors per queue not read.
//
// On BullMQ 6's PostgreSQL backend, a queue is read through an open backend of
// this process with BullMQ's own getCounts() (the one get_counts query of
// Queue.getJobCounts()): one query per queue per collection, same cache and bound.
//
// The counts follow Queue.getJobCounts(): lists (wait, paused, active) by
// length, sorted sets by cardinality. BullMQ 5 moves waiting jobs to `paused`
// while a queue is paused; BullMQ 6 keeps them in `wait`, so there `paused`
// stays 0 and they count as waiting, as its getJobCounts() says.

import { type Attributes, context, type Meter } from '@opentelemetry/api';
import { QUEUE_STATES, type Registry } from '../backends/backend.js';
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

/** Beyond this many queues (e.g. one per tenant), new ones are not watched. */
export const MAX_WATCHED_QUEUES = 1000;

/** One queue (in one registry) and what is known of its counts. */
interface Watched {
  readonly name: string;
  readonly registry: Registry;
  readonly stateAttributes: Attributes[];
  readonly errors: CounterCell;
  /** Live BullMQ objects of this process that use the queue. */
  readonly users: Set<QueueUserLike>;
  counts: number[] | undefined;
  /** The read in flight, shared by every collection until it settles. */
  reading: Promise<ReadOutcome> | undefined;
}

/** `skipped`: nothing to read it with right now; not an error. */
type ReadOutcome = 'read' | 'failed' | 'skipped';

export class QueueDepth implements LifecycleObserver {
  private readonly watched = new Map<string, Watched>();
  private readonly errors: CellCounter;
  private refreshedAt = Number.NEGATIVE_INFINITY;
  private refreshing: Promise<void> | undefined;

  /** `meter`: where the gauge goes (a no-op meter where only counts() is wanted). */
  constructor(
    meter: Meter,
    private readonly backends: Backends,
    private readonly config: Pick<
      JobwatchConfig,
      'queues' | 'queuePrefix' | 'collectCacheMs' | 'collectTimeoutMs'
    >,
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
    meter
      .createObservableGauge('bullmq.queue.jobs', {
        description:
          'Jobs in the queue by state, as Queue.getJobCounts() counts them, read at most once per JOBWATCH_COLLECT_CACHE_MS.',
        unit: '{job}',
      })
      .addCallback(async (result) => {
        await this.refresh();
        for (const queue of this.watched.values()) {
          const counts = queue.counts;
          if (counts === undefined) continue;
          for (let i = 0; i < counts.length; i++) {
            result.observe(counts[i]!, queue.stateAttributes[i]!);
          }
        }
      });
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
   * the gauge (for /health/queues and the CLI); queues not read yet are left out.
   */
  async counts(): Promise<QueueCounts> {
    await this.refresh();
    const out: QueueCounts = {};
    for (const queue of this.watched.values()) {
      const counts = queue.counts;
      if (counts === undefined) continue;
      out[queue.name] = Object.fromEntries(QUEUE_STATES.map((state, i) => [state, counts[i]!]));
    }
    return out;
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
    const destination = { 'messaging.destination.name': boundedLabel(name) };
    queue = {
      name,
      registry,
      stateAttributes: QUEUE_STATES.map((state) => ({ ...destination, 'bullmq.job.state': state })),
      errors: this.errors.cell(destination),
      users: new Set(),
      counts: undefined,
      reading: undefined,
    };
    this.watched.set(key, queue);
    return queue;
  }

  /** JOBWATCH_QUEUES, in the registry of JOBWATCH_REDIS_URL or of a connection the app opened. */
  private watchConfigured(): void {
    if (this.config.queues.length === 0) return;
    const registry = this.backends.queueRegistry(this.config.queuePrefix);
    if (!registry) {
      warnRateLimited(
        'queue-depth:no-redis',
        'JOBWATCH_QUEUES: no Redis to read them from yet (set JOBWATCH_REDIS_URL, or use BullMQ in this process)',
      );
      return;
    }
    for (const name of this.config.queues) this.watch(registry, name);
  }

  /** One bounded refresh at a time, and none while the last one is fresh enough. */
  private refresh(): Promise<void> {
    if (this.refreshing) return this.refreshing;
    if (Date.now() - this.refreshedAt < this.config.collectCacheMs) return Promise.resolve();
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
    await withTimeout(Promise.all(reads), this.config.collectTimeoutMs, 'queue depth').catch(
      () => undefined, // what is still pending counts as failed below
    );
    for (let i = 0; i < queues.length; i++) {
      if (outcomes[i] === undefined || outcomes[i] === 'failed') queues[i]!.errors.value++;
    }
  }

  private read(queue: Watched): Promise<ReadOutcome> {
    for (const user of queue.users) if (isClosing(user)) queue.users.delete(user);
    return context
      .with(core.suppressTracing(context.active()), () =>
        queue.registry.countJobs(queue.name, queue.users),
      )
      .then(
        (counts): ReadOutcome => {
          if (counts === undefined) return 'skipped';
          queue.counts = counts;
          return 'read';
        },
        (err): ReadOutcome => {
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
