// The Redis servers (and BullMQ prefixes) this process knows, learnt from the
// BullMQ objects it creates, plus JOBWATCH_REDIS_URL when set. Health reads
// and writes the registry through these, so it needs no settings of its own.

import type { QueueUserLike } from '../lifecycle.js';
import { describeError, logInfo, warnRateLimited } from '../log.js';
import {
  bullmqStore,
  isUsable,
  type OwnedRedis,
  openRedis,
  type RedisScriptClient,
  serverIdentity,
} from '../redis-access.js';

/** One registry to read: a prefix on one Redis server, and a client to reach it. */
export interface RegistrySource {
  key: string;
  prefix: string;
  client: RedisScriptClient;
}

interface Known {
  prefix: string;
  identity: string;
  clients: RedisScriptClient[];
}

export class Connections {
  private readonly known = new Map<string, Known>();
  private readonly seen = new WeakSet<object>();
  private own: OwnedRedis | undefined;
  private readonly userListeners: ((user: QueueUserLike) => void)[] = [];
  /** Non-Redis backends in use (e.g. PostgreSQL on BullMQ 6): heartbeats cannot work there. */
  readonly unavailable = new Set<string>();

  constructor(
    redisUrl: string | undefined,
    private readonly urlPrefix: string,
    connectTimeoutMs: number,
  ) {
    if (redisUrl) {
      this.own = openRedis(redisUrl, connectTimeoutMs);
      (this.own as unknown as { on(e: string, f: (err: unknown) => void): void }).on(
        'error',
        (err) => warnRateLimited('redis-url', `JOBWATCH_REDIS_URL: ${describeError(err)}`),
      );
      this.add(this.own, urlPrefix);
    }
  }

  /** Learns the Redis client and prefix of a Queue, Worker or FlowProducer. */
  addUser(user: QueueUserLike): void {
    if (this.seen.has(user)) return;
    this.seen.add(user);
    for (const listener of this.userListeners) listener(user);
    const store = bullmqStore(user);
    if (store.kind === 'other') {
      this.markUnavailable(store.backend);
      return;
    }
    const prefix = user.opts.prefix ?? 'bull';
    void store.client?.then(
      (client) => this.add(client, prefix),
      () => undefined, // BullMQ reports its own connection errors
    );
  }

  /** Calls `listener` with every BullMQ object learnt from now on. */
  onUser(listener: (user: QueueUserLike) => void): void {
    this.userListeners.push(listener);
  }

  markUnavailable(backend: string): void {
    if (this.unavailable.has(backend)) return;
    this.unavailable.add(backend);
    logInfo(
      `heartbeats are unavailable for BullMQ's ${backend} (the worker registry needs Redis); tracing and metrics are unaffected`,
    );
  }

  add(client: RedisScriptClient, prefix: string, identity = serverIdentity(client)): void {
    const id = identity ?? `client:${this.known.size}`;
    const key = `${id} ${prefix}`;
    const entry = this.known.get(key) ?? { prefix, identity: id, clients: [] };
    if (!entry.clients.includes(client)) entry.clients.push(client);
    this.known.set(key, entry);
  }

  /** One usable client per (server, prefix): what the registry view reads. */
  sources(): RegistrySource[] {
    const out: RegistrySource[] = [];
    for (const [key, entry] of this.known) {
      const client = entry.clients.find(isUsable);
      if (client) out.push({ key, prefix: entry.prefix, client });
    }
    return out;
  }

  /** A usable client on the same server as `client` (e.g. when a closed worker's own is gone). */
  sibling(client: RedisScriptClient): RedisScriptClient | undefined {
    const identity = serverIdentity(client);
    if (isUsable(client)) return client;
    for (const entry of this.known.values()) {
      if (entry.identity !== identity) continue;
      const other = entry.clients.find(isUsable);
      if (other) return other;
    }
    return undefined;
  }

  /** Where watch()ed loops write: JOBWATCH_REDIS_URL, else the first BullMQ connection seen. */
  defaultTarget(): { client: RedisScriptClient; prefix: string } | undefined {
    if (this.own) return { client: this.own, prefix: this.urlPrefix };
    const source = this.sources()[0];
    return source && { client: source.client, prefix: source.prefix };
  }

  async close(): Promise<void> {
    const own = this.own;
    this.own = undefined;
    if (!own) return;
    try {
      await own.quit();
    } catch {
      own.disconnect();
    }
  }
}
