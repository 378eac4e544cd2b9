// The one interface between worker health and queue depth (which know no
// Redis and no SQL) and the stores BullMQ keeps its data in. A backend
// (./redis, ./postgres) learns the BullMQ objects whose data it holds, and
// hands out the registries they share: one per store location and namespace
// (a Redis server and db plus a key prefix; a PostgreSQL database plus a
// schema). Adding a store is one folder here that implements Backend and
// Registry, and passes the contract tests (test/backends).

import type { QueueUserLike } from '../lifecycle.js';
import type { FailureReading } from '../registry/failures.js';
import type { RegistryStore } from '../registry/store.js';

/** The states of bullmq.queue.jobs, in the order a registry counts them (Queue.getJobCounts()'s names). */
export const QUEUE_STATES = [
  'waiting',
  'paused',
  'active',
  'prioritized',
  'delayed',
  'waiting-children',
  'completed',
  'failed',
] as const;

export type QueueState = (typeof QUEUE_STATES)[number];

export interface QueueRead {
  /** Jobs per state, in QUEUE_STATES order. */
  counts: number[];
  /**
   * How long (ms, by the store's clock) the job next in line has been ready:
   * since it was added, its delay ended, or its last attempt began; 0 when
   * nothing waits. Paused queues' jobs wait on purpose and are not counted.
   */
  oldestWaitingMs: number;
}

/** A store handle for one call: `release` gives back a short-lived connection opened for it. */
export interface StoreHandle {
  store: RegistryStore;
  release?(): void;
}

/** One registry: the workers that beat into it are judged together, and its queues live beside it. */
export interface Registry {
  /** Unique among the registries of a process (store, location and namespace). */
  readonly key: string;
  /** The kind of store, for log lines: Redis, PostgreSQL. */
  readonly storeName: string;
  /**
   * Where the registry lives, the same for every process that reaches it:
   * `redis://host:port/db#prefix`, `redis-cluster://seeds#prefix`,
   * `postgresql://host:port/database#schema`. The jobwatch.registry label of
   * every series read from it, so two registries are never one series.
   */
  readonly scope: string;
  /** How reports and log lines name it: the prefix on Redis, `PostgreSQL host:port/db schema`. */
  readonly label: string;
  /** Set once the registry is known not to work here at all (e.g. no right to create its table). */
  readonly unavailable: string | undefined;
  /**
   * The store, on a connection that is open now. `lastResort`: when the app
   * closed every connection to it, a short-lived one (a closing worker's
   * final "stopped" must still land); otherwise undefined then.
   */
  handle(lastResort?: boolean): StoreHandle | undefined;
  /** What a failed call on this registry means, and what to do about it. */
  classify(err: unknown): FailureReading;
  /**
   * One read of a queue: its jobs per QUEUE_STATES and how long the next job
   * in line has been ready, through one of `users` or another connection of
   * this process; undefined: nothing to read it with now.
   */
  readQueue(queue: string, users: Iterable<QueueUserLike>): Promise<QueueRead | undefined>;
}

export interface Backend {
  /** True when this backend holds the data of a BullMQ object. */
  owns(user: QueueUserLike): boolean;
  /** Learns a BullMQ object of this backend; its registry (once its connection is up). */
  registryOf(user: QueueUserLike): Promise<Registry | undefined>;
  /** Calls `listener` whenever a registry is learnt that was not known before. */
  onRegistry(listener: () => void): void;
  /** Every registry known now (whose store can be reached). */
  registries(): Registry[];
  /** The registry of jobwatch's own connection (JOBWATCH_REDIS_URL, JOBWATCH_POSTGRES_URL), if one is set. */
  own(): Registry | undefined;
  /** A registry of `namespace` on a store this process reaches already (for JOBWATCH_QUEUES without a URL). */
  near(namespace: string): Registry | undefined;
  /** Pings the app's own open connections; one line per connection that did not answer. */
  readiness(timeoutMs: number): Promise<{ connections: number; errors: string[] }>;
  close(): Promise<void>;
}
