// The Redis servers (and BullMQ prefixes) this process knows, learnt from the
// BullMQ objects it creates, plus JOBWATCH_REDIS_URL (or the CLI's --redis)
// when set. Health reads and writes the registry through these, so it needs no
// settings of its own.

import type { QueueUserLike } from '../lifecycle.js';
import { logInfo } from '../log.js';
import { postgresBackendOf } from '../postgres/backend.js';
import { bullmqStore, isUsable, type RedisScriptClient, serverIdentity } from './access.js';
import { closeOwnedRedis, type OwnedRedis, ownedRedis, type RedisTarget } from './owned.js';

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

interface Closable {
  once?(event: 'end', listener: () => void): unknown;
}

export interface OwnSettings {
  target: RedisTarget | undefined;
  prefix: string;
  connectTimeoutMs: number;
  /** The setting that names the target, for error lines (e.g. JOBWATCH_REDIS_URL). */
  label: string;
}

export class Connections {
  private readonly known = new Map<string, Known>();
  private readonly seen = new WeakSet<object>();
  private readonly bullmqClients = new Set<RedisScriptClient>();
  private current: OwnedRedis | undefined;
  /** The app's BullMQ connections have all ended: no reopening the owned one until a new one comes. */
  private idle = false;
  private readonly userListeners: ((user: QueueUserLike) => void)[] = [];
  private readonly sourceListeners: (() => void)[] = [];
  /** Non-Redis backends in use (e.g. PostgreSQL on BullMQ 6): heartbeats cannot work there. */
  readonly unavailable = new Set<string>();

  constructor(private readonly ownSettings: OwnSettings) {
    this.own();
  }

  /** Learns the Redis client and prefix of a Queue, Worker or FlowProducer. */
  addUser(user: QueueUserLike): void {
    if (this.seen.has(user)) return;
    this.seen.add(user);
    for (const listener of this.userListeners) listener(user);
    const store = bullmqStore(user);
    if (store.kind === 'other') {
      // BullMQ 6's PostgreSQL backend has a registry of its own (src/postgres).
      if (!postgresBackendOf(user)) this.markUnavailable(store.backend);
      return;
    }
    const prefix = user.opts.prefix ?? 'bull';
    this.idle = false;
    void store.client?.then(
      (client) => {
        this.trackBullmq(client);
        this.add(client, prefix);
      },
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

  /** Calls `listener` whenever a Redis (and prefix) is learnt that was not known before. */
  onSource(listener: () => void): void {
    this.sourceListeners.push(listener);
  }

  add(client: RedisScriptClient, prefix: string, identity = serverIdentity(client)): void {
    const id = identity ?? `client:${this.known.size}`;
    const key = `${id} ${prefix}`;
    const isNew = !this.known.has(key);
    const entry = this.known.get(key) ?? { prefix, identity: id, clients: [] };
    // Apps that open a Queue per request must not make this list grow.
    entry.clients = entry.clients.filter((c) => c !== client && isUsable(c));
    entry.clients.push(client);
    this.known.set(key, entry);
    if (isNew) for (const listener of this.sourceListeners) listener();
  }

  /** One usable client per (server, prefix): what the registry view reads. */
  sources(): RegistrySource[] {
    this.own();
    const out: RegistrySource[] = [];
    for (const [key, entry] of this.known) {
      const client = entry.clients.find(isUsable);
      if (client) out.push({ key, prefix: entry.prefix, client });
    }
    return out;
  }

  /** The app's own BullMQ clients still open, one per (server, prefix): what readiness checks. */
  appSources(): RegistrySource[] {
    return this.sources().flatMap((source) => {
      const entry = this.known.get(source.key)!;
      const client = entry.clients.find((c) => this.bullmqClients.has(c) && isUsable(c));
      return client ? [{ ...source, client }] : [];
    });
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

  /** Where watch()ed loops write: the owned connection, else the first BullMQ connection seen. */
  defaultTarget(): { client: RedisScriptClient; prefix: string } | undefined {
    this.idle = false; // a watch()ed loop beating is a use of the owned connection
    const own = this.own();
    if (own) return { client: own, prefix: this.ownSettings.prefix };
    const source = this.sources()[0];
    return source && { client: source.client, prefix: source.prefix };
  }

  async close(): Promise<void> {
    this.current = undefined;
    if (this.ownSettings.target) await closeOwnedRedis();
  }

  /** The owned connection, reopened (lazily) if it was closed since. */
  private own(): OwnedRedis | undefined {
    const { target, connectTimeoutMs, label, prefix } = this.ownSettings;
    if (!target || this.idle) return undefined;
    const client = ownedRedis(target, connectTimeoutMs, label);
    if (client !== this.current) {
      this.current = client;
      this.add(client, prefix);
    }
    return client;
  }

  /** When the app's last BullMQ connection ends, the owned ones have no more use: close them. */
  private trackBullmq(client: RedisScriptClient): void {
    if (this.bullmqClients.has(client)) return;
    this.bullmqClients.add(client);
    (client as Closable).once?.('end', () => {
      for (const c of this.bullmqClients) if (!isUsable(c)) this.bullmqClients.delete(c);
      if (this.bullmqClients.size === 0 && this.current) {
        this.current = undefined;
        this.idle = true;
        void closeOwnedRedis();
      }
    });
  }
}
