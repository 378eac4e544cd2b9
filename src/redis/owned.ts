// jobwatch's own Redis connections (JOBWATCH_REDIS_URL, the CLI, the monitor):
// one per Redis (URL, or set of cluster seeds) for the whole process, shared
// by health and metrics. They never keep a process alive:
//   - they connect on first use (a script that never needs them opens nothing),
//   - their sockets and reconnect timers are unref'd, so a short script exits
//     as it would without jobwatch, and
//   - once the last BullMQ connection of the process has ended, they are
//     closed (and stop reconnecting); the next use opens a fresh one.
// ioredis is loaded from the app's BullMQ installation (BullMQ's own dependency
// or peer), so jobwatch adds no Redis client of its own.

import { createRequire } from 'node:module';
import { describeError, warnRateLimited } from '../log.js';
import type { RedisScriptClient } from './access.js';

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
}

/**
 * `redis://a:1` is one server; a comma-separated list of seed nodes is a
 * Redis Cluster (`redis://a:1,redis://b:2`, or `redis://a:1,` for one seed).
 */
export function parseTarget(spec: string): RedisTarget {
  const urls = spec
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  return { urls, cluster: spec.includes(',') };
}

const open = new Map<string, OwnedRedis>();
let holdsProcess = false;

/**
 * For the CLI and the monitor, whose Redis reads are the process's work: their
 * connections keep it alive like any client's (call before the first use).
 */
export function ownedRedisHoldsProcess(): void {
  holdsProcess = true;
}

/** The process's one connection to `target` (opened lazily, shared, never holding the process open). */
export function ownedRedis(
  target: RedisTarget,
  connectTimeoutMs: number,
  label: string,
): OwnedRedis {
  const key = `${target.cluster ? 'cluster ' : ''}${target.urls.join(',')}`;
  const known = open.get(key);
  if (known && known.status !== 'end') return known;
  const client = connect(target, connectTimeoutMs);
  client.on('error', (err: unknown) =>
    warnRateLimited(`redis:${key}`, `${label}: ${describeError(err)}`),
  );
  open.set(key, client);
  return client;
}

/** Closes every owned connection (the app has no more use for them); later uses reopen. */
export async function closeOwnedRedis(): Promise<void> {
  const clients = [...open.values()];
  open.clear();
  await Promise.all(
    // A connection never used has nothing to say goodbye to (QUIT would connect it first).
    clients.map((c) =>
      c.status === 'wait' ? c.disconnect() : c.quit().catch(() => c.disconnect()),
    ),
  );
}

function connect(target: RedisTarget, connectTimeoutMs: number): OwnedRedis {
  const ioredis = createRequire(require.resolve('bullmq'))('ioredis') as {
    Redis: new (url: string, options: Record<string, unknown>) => OwnedRedis;
    Cluster: new (nodes: string[], options: Record<string, unknown>) => OwnedRedis;
  };
  const options = {
    connectionName: 'jobwatch',
    connectTimeout: connectTimeoutMs,
    // Commands fail fast while Redis is away instead of queueing without bound.
    maxRetriesPerRequest: 1,
    retryStrategy: (times: number) => Math.min(times * 200, 2000),
    lazyConnect: true,
  };
  const client = target.cluster
    ? new ioredis.Cluster(target.urls, {
        lazyConnect: true,
        redisOptions: { ...options, lazyConnect: false },
        clusterRetryStrategy: options.retryStrategy,
        // Slots are refreshed on MOVED; a periodic refresh would be one more timer.
        slotsRefreshInterval: 0,
      })
    : new ioredis.Redis(target.urls[0] ?? 'redis://127.0.0.1:6379', options);
  if (!holdsProcess) holdNothingOpen(client);
  return client;
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
