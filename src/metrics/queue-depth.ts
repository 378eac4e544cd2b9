// bullmq.queue.jobs: how many jobs each queue holds, per state.
//
// Which queues: every queue a Queue, Worker or FlowProducer in this process
// uses (read through BullMQ's own Redis client), plus JOBWATCH_QUEUES (under
// JOBWATCH_QUEUE_PREFIX, read through JOBWATCH_REDIS_URL, else through a
// BullMQ connection of this process). A queue stays watched after the objects
// that used it close, read through another connection of this process to the
// same Redis server; only when none is left does its gauge keep its last
// values (the SDK keeps cumulative series once seen).
//
// Which processes: every process with queue depth on (JOBWATCH_QUEUE_DEPTH,
// default true) reports the queues it knows, one series per (queue, state).
// Processes reading the same Redis report the same numbers (within the cache
// time), so dashboards and alerts take `max by (messaging_destination_name,
// bullmq_job_state)`. Turn it off where it adds nothing (e.g. many API replicas).
//
// Cost: one pipelined round trip per queue per collection (8 O(1) commands,
// LLEN/ZCARD), shared by every reader and scrape within JOBWATCH_COLLECT_CACHE_MS,
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
import type { JobwatchConfig } from '../config.js';
import type { LifecycleObserver, QueueUserLike } from '../lifecycle.js';
import { describeError, warnRateLimited } from '../log.js';
import { core } from '../otel-sdk.js';
import { databaseIdentity, openBackendAmong, postgresBackendOf } from '../postgres/backend.js';
import {
  bullmqStore,
  isUsable,
  type RedisScriptClient,
  serverIdentity,
  withTimeout,
} from '../redis/access.js';
import { closeOwnedRedis, type OwnedRedis, ownedRedis, parseTarget } from '../redis/owned.js';
import { CellCounter, type CounterCell } from './counter-cells.js';
import { boundedLabel } from './label-values.js';

/** Each state, the key BullMQ keeps it in, and how to count that key. */
const STATES = [
  ['waiting', 'wait', 'llen'],
  ['paused', 'paused', 'llen'],
  ['active', 'active', 'llen'],
  ['prioritized', 'prioritized', 'zcard'],
  ['delayed', 'delayed', 'zcard'],
  ['waiting-children', 'waiting-children', 'zcard'],
  ['completed', 'completed', 'zcard'],
  ['failed', 'failed', 'zcard'],
] as const;

export const QUEUE_STATES = STATES.map(([state]) => state);

/** Beyond this many queues (e.g. one per tenant), new ones are not watched. */
export const MAX_WATCHED_QUEUES = 1000;

interface Pipeline {
  llen(key: string): Pipeline;
  zcard(key: string): Pipeline;
  exec(): Promise<[Error | null, unknown][] | null>;
}
type PipelineClient = RedisScriptClient & { pipeline(): Pipeline };

/** One queue (prefix + name) and what is known of its counts. */
interface Watched {
  readonly name: string;
  readonly keyPrefix: string;
  readonly stateAttributes: Attributes[];
  readonly errors: CounterCell;
  /** Live BullMQ objects of this process that use the queue. */
  readonly users: Set<QueueUserLike>;
  /** The Redis server (host:port/db) the queue was seen on, for reading it through a sibling. */
  server: string | undefined;
  counts: number[] | undefined;
  /** The read in flight, shared by every collection until it settles. */
  reading: Promise<ReadOutcome> | undefined;
}

/** `skipped`: nothing to read it with right now; not an error. */
type ReadOutcome = 'read' | 'failed' | 'skipped';

function isClosed(user: QueueUserLike): boolean {
  return Boolean((user as { closing?: unknown }).closing);
}

export class QueueDepth implements LifecycleObserver {
  private readonly watched = new Map<string, Watched>();
  private readonly configured = new Set<Watched>();
  /** Every BullMQ client seen, so a queue outlives the objects that used it. */
  private readonly clients = new Set<PipelineClient>();
  private readonly errors: CellCounter;
  private refreshedAt = Number.NEGATIVE_INFINITY;
  private refreshing: Promise<void> | undefined;

  constructor(
    meter: Meter,
    private readonly config: JobwatchConfig,
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
    for (const name of config.queues) {
      const queue = this.watch(name, config.queuePrefix);
      if (queue) this.configured.add(queue);
    }
  }

  queueUsed(user: QueueUserLike): void {
    const store = bullmqStore(user);
    const postgres = postgresBackendOf(user);
    if (store.kind === 'other' && !postgres) {
      warnRateLimited(
        `queue-depth:backend:${store.backend}`,
        `queue depth is not reported for queue "${user.name}": BullMQ's ${store.backend} is not Redis`,
      );
      return;
    }
    const queue = this.watch(
      user.name,
      postgres ? databaseIdentity(postgres) : (user.opts.prefix ?? 'bull'),
    );
    if (queue === undefined) return;
    // Apps that open a Queue per request must not make this set grow.
    for (const known of queue.users) if (isClosed(known)) queue.users.delete(known);
    queue.users.add(user);
    if (store.kind !== 'redis') return;
    store.client.then(
      (client) => {
        this.clients.add(client as PipelineClient);
        queue.server ??= serverIdentity(client);
      },
      () => undefined, // BullMQ reports its own connection errors
    );
  }

  /**
   * Jobs per queue and state, from the same cached, bounded read that serves
   * the gauge (for /health/queues and the CLI); queues not read yet are left out.
   */
  async counts(): Promise<Record<string, Record<string, number>>> {
    await this.refresh();
    const out: Record<string, Record<string, number>> = {};
    for (const queue of this.watched.values()) {
      const counts = queue.counts;
      if (counts === undefined) continue;
      out[queue.name] = Object.fromEntries(QUEUE_STATES.map((state, i) => [state, counts[i]!]));
    }
    return out;
  }

  async close(): Promise<void> {
    if (this.config.queues.length > 0 && this.config.redisUrl) await closeOwnedRedis();
  }

  /** JOBWATCH_REDIS_URL's connection (shared with health, opened on first use), for JOBWATCH_QUEUES. */
  private get own(): OwnedRedis | undefined {
    const { queues, redisUrl, collectTimeoutMs } = this.config;
    if (queues.length === 0 || !redisUrl) return undefined;
    return ownedRedis(parseTarget(redisUrl), collectTimeoutMs, 'JOBWATCH_REDIS_URL');
  }

  private watch(name: string, prefix: string): Watched | undefined {
    const keyPrefix = `${prefix}:${name}:`;
    let queue = this.watched.get(keyPrefix);
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
      keyPrefix,
      stateAttributes: STATES.map(([state]) => ({ ...destination, 'bullmq.job.state': state })),
      errors: this.errors.cell(destination),
      users: new Set(),
      server: undefined,
      counts: undefined,
      reading: undefined,
    };
    this.watched.set(keyPrefix, queue);
    return queue;
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
    return context
      .with(core.suppressTracing(context.active()), () => this.readCounts(queue))
      .then(
        (counts): ReadOutcome => {
          if (counts === undefined) return 'skipped';
          queue.counts = counts;
          return 'read';
        },
        (err): ReadOutcome => {
          warnRateLimited(
            `queue-depth:${queue.keyPrefix}`,
            `cannot read the depth of queue "${queue.name}": ${describeError(err)}`,
          );
          return 'failed';
        },
      )
      .finally(() => {
        queue.reading = undefined;
      });
  }

  private async readCounts(queue: Watched): Promise<number[] | undefined> {
    const postgres = openBackendAmong(queue.users);
    if (postgres) return postgres.getCounts(QUEUE_STATES);
    const client = await this.clientFor(queue);
    if (client === undefined) return undefined;
    if (typeof client.pipeline !== 'function') return this.unsupported(queue);
    let pipeline = client.pipeline();
    if (typeof pipeline.zcard !== 'function') return this.unsupported(queue);
    for (const [, key, command] of STATES) pipeline = pipeline[command](queue.keyPrefix + key);
    const replies = await pipeline.exec();
    if (!replies) throw new Error('pipeline aborted');
    return replies.map(([err, value]) => {
      if (err) throw err;
      return Number(value);
    });
  }

  /**
   * A live user's own client; else, for JOBWATCH_QUEUES, JOBWATCH_REDIS_URL;
   * else another client of this process on the same server (any, for
   * JOBWATCH_QUEUES without a URL).
   */
  private async clientFor(queue: Watched): Promise<PipelineClient | undefined> {
    for (const user of queue.users) {
      if (isClosed(user)) {
        queue.users.delete(user);
        continue;
      }
      const store = bullmqStore(user);
      if (store.kind !== 'redis') continue;
      const client = (await store.client.catch(() => undefined)) as PipelineClient | undefined;
      if (client && isUsable(client)) return client;
    }
    const configured = this.configured.has(queue);
    if (configured && this.own) return this.own as unknown as PipelineClient;
    for (const client of this.clients) {
      if (!isUsable(client)) this.clients.delete(client);
      else if (configured || serverIdentity(client) === queue.server) return client;
    }
    if (configured) {
      warnRateLimited(
        'queue-depth:no-redis',
        'JOBWATCH_QUEUES: no Redis to read them from yet (set JOBWATCH_REDIS_URL, or use BullMQ in this process)',
      );
    }
    return undefined;
  }

  private unsupported(queue: Watched): undefined {
    warnRateLimited(
      `queue-depth:unsupported:${queue.keyPrefix}`,
      `queue depth is not reported for queue "${queue.name}": its Redis client has no pipelines with LLEN/ZCARD (jobwatch reads queue depth through ioredis)`,
    );
    return undefined;
  }
}
