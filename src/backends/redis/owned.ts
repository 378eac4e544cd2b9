// jobwatch's own Redis connection (JOBWATCH_REDIS_URL, the CLI's --redis, the
// monitor): opened on first use, shared by health and queue depth through
// their one backend, and never keeping a process alive:
//   - a script that never needs it opens nothing,
//   - its sockets and reconnect timers are unref'd, so a short script exits
//     as it would without jobwatch (unless `holdsProcess`: the CLI's reads are
//     its process's work),
//   - it is closed when the app's last BullMQ connection ends (backend.ts);
//     the next use opens a fresh one.
// ioredis is loaded from the app's BullMQ installation (BullMQ's own dependency
// or peer), so jobwatch adds no Redis client of its own.

import { createRequire } from 'node:module';
import { describeError, warnRateLimited } from '../../log.js';
import { withoutCredentials } from '../../url.js';
import type { RedisScriptClient } from './client.js';

export interface OwnedRedis extends RedisScriptClient {
  quit(): Promise<unknown>;
  disconnect(): void;
  ping(): Promise<unknown>;
  on(event: string, listener: (...args: any[]) => void): unknown;
}

/** Where an owned connection goes: one URL, or the seed nodes of a Redis Cluster. */
export interface RedisTarget {
  urls: string[];
  cluster: boolean;
  /** The setting that names it, for error lines (e.g. JOBWATCH_REDIS_URL). */
  label: string;
}

/**
 * `redis://a:1` is one server; a comma-separated list of seed nodes is a
 * Redis Cluster (`redis://a:1,redis://b:2`, or `redis://a:1,` for one seed).
 */
export function parseTarget(spec: string, label: string): RedisTarget {
  const urls = spec
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  return { urls, cluster: spec.includes(','), label };
}

/** The URL of a target without its credentials, for reports and log lines. */
export function describeTarget(target: RedisTarget): string {
  return target.urls.map(withoutCredentials).join(',');
}

export class OwnedConnection {
  private client: OwnedRedis | undefined;

  constructor(
    readonly target: RedisTarget,
    private readonly connectTimeoutMs: number,
    private readonly holdsProcess: boolean,
  ) {}

  /** The connection, opened now if it is not open. */
  get(): OwnedRedis {
    if (this.client && this.client.status !== 'end') return this.client;
    const client = this.connect();
    client.on('error', (err: unknown) =>
      warnRateLimited(
        `redis:${this.target.urls.join(',')}`,
        `${this.target.label}: ${describeError(err)}`,
      ),
    );
    this.client = client;
    return client;
  }

  /** The connection if it is open now, without opening one. */
  current(): OwnedRedis | undefined {
    return this.client?.status === 'end' ? undefined : this.client;
  }

  /** Closes it (a later get() opens a fresh one). */
  async close(): Promise<void> {
    const client = this.client;
    this.client = undefined;
    if (!client) return;
    // A connection never used has nothing to say goodbye to (QUIT would connect it first).
    if (client.status === 'wait') client.disconnect();
    else await client.quit().catch(() => client.disconnect());
  }

  private connect(): OwnedRedis {
    const ioredis = createRequire(require.resolve('bullmq'))('ioredis') as {
      Redis: new (url: string, options: Record<string, unknown>) => OwnedRedis;
      Cluster: new (nodes: string[], options: Record<string, unknown>) => OwnedRedis;
    };
    const options = {
      connectionName: 'jobwatch',
      connectTimeout: this.connectTimeoutMs,
      // Commands fail fast while Redis is away instead of queueing without bound.
      maxRetriesPerRequest: 1,
      retryStrategy: (times: number) => Math.min(times * 200, 2000),
      lazyConnect: true,
    };
    const { urls, cluster } = this.target;
    const client = cluster
      ? new ioredis.Cluster(urls, {
          lazyConnect: true,
          redisOptions: { ...options, lazyConnect: false },
          clusterRetryStrategy: options.retryStrategy,
          // Slots are refreshed on MOVED; a periodic refresh would be one more timer.
          slotsRefreshInterval: 0,
        })
      : new ioredis.Redis(urls[0] ?? 'redis://127.0.0.1:6379', options);
    if (!this.holdsProcess) holdNothingOpen(client);
    return client;
  }
}

interface Unrefable {
  unref?(): void;
}

/** Unrefs the socket of every connection and every reconnect timer of `client` (and its cluster nodes). */
export function holdNothingOpen(client: {
  on(event: string, listener: (...args: any[]) => void): unknown;
}): void {
  const raw = client as unknown as { stream?: Unrefable; reconnectTimeout?: Unrefable };
  client.on('connect', () => raw.stream?.unref?.());
  client.on('reconnecting', () => raw.reconnectTimeout?.unref?.());
  client.on('+node', (node: typeof client) => holdNothingOpen(node));
}
