// The Redis backend: the servers (and BullMQ prefixes) this process knows,
// learnt from the clients of the BullMQ objects it creates, plus jobwatch's
// own connection when JOBWATCH_REDIS_URL (or the CLI's --redis) names one.
// One registry per server and prefix; any open client of a server serves all
// of its registries and queues.

import { backendOf } from '../../bullmq-objects.js';
import { DEFAULT_CONFIG } from '../../config.js';
import type { QueueUserLike } from '../../lifecycle.js';
import { warnRateLimited } from '../../log.js';
import type { FailureReading } from '../../registry/failures.js';
import type { RegistryStore } from '../../registry/store.js';
import { withTimeout } from '../../timeout.js';
import type { Backend, QueueRead, Registry, StoreHandle } from '../backend.js';
import {
  isBareGlideClient,
  isUsable,
  type RedisScriptClient,
  runScript,
  serverIdentity,
} from './client.js';
import { readRedisFailure } from './errors.js';
import { queueKeys } from './keys.js';
import { OwnedConnection, type RedisTarget } from './owned.js';
import { redisStore } from './registry-store.js';
import { PING, QUEUE_DEPTH } from './scripts.js';
import { Server } from './server.js';

export interface RedisSettings {
  /** jobwatch's own connection, and the prefix of the registry and queues it reads there. */
  owned: RedisTarget | undefined;
  prefix: string;
  connectTimeoutMs: number;
  /** The CLI: its connection keeps the process alive like any client's. */
  holdsProcess: boolean;
  /** A client whose jobwatch call goes unanswered this long is routed around (server.ts). */
  stuckAfterMs: number;
}

interface Pingable {
  ping?(): Promise<unknown>;
}

class RedisRegistry implements Registry {
  readonly key: string;
  readonly storeName = 'Redis';
  readonly scope: string;
  readonly unavailable = undefined;

  constructor(
    readonly server: Server,
    readonly prefix: string,
    private readonly timeoutMs: number,
  ) {
    this.key = `redis ${server.identity} ${prefix}`;
    this.scope = redisScope(server.identity, prefix);
  }

  get label(): string {
    return this.prefix;
  }

  handle(lastResort = false): StoreHandle | undefined {
    const client = this.server.client();
    if (client) return { store: this.tracked(client) };
    if (lastResort) return this.shortLived();
    return undefined;
  }

  classify(err: unknown): FailureReading {
    return readRedisFailure(err, this.prefix);
  }

  async readQueue(queue: string): Promise<QueueRead | undefined> {
    const client = this.server.client();
    if (!client) return undefined;
    const args = [...queueKeys(this.prefix, queue), `${this.prefix}:${queue}:`];
    const reply = (await this.server.call(client, () =>
      runScript(client, QUEUE_DEPTH, args),
    )) as unknown[];
    const numbers = reply.map(Number);
    return { counts: numbers.slice(0, 8), oldestWaitingMs: Math.max(0, numbers[8] ?? 0) };
  }

  /** The store on `client`, each call watched for an answer (server.ts). */
  private tracked(client: RedisScriptClient): RegistryStore {
    const store = redisStore(client, this.prefix);
    const call = <T>(work: () => Promise<T>): Promise<T> => this.server.call(client, work);
    return {
      writeBeat: (fields, retentionMs, stopped) =>
        call(() => store.writeBeat(fields, retentionMs, stopped)),
      lease: (holder, ttlMs, takeOver) => call(() => store.lease(holder, ttlMs, takeOver)),
      releaseLease: (holder) => call(() => store.releaseLease(holder)),
      read: (depth) => call(() => store.read(depth)),
    };
  }

  /** A copy of the server's last client, closed right after one call (or after the timeout). */
  private shortLived(): StoreHandle | undefined {
    const last = this.server.last;
    if (typeof last?.duplicate !== 'function') return undefined;
    const copy = last.duplicate();
    copy.on('error', () => undefined); // reported by the call's own failure
    const timer = setTimeout(() => copy.disconnect(), this.timeoutMs);
    timer.unref();
    const release = () => {
      clearTimeout(timer);
      copy.quit().catch(() => copy.disconnect());
    };
    return { store: redisStore(copy, this.prefix), release };
  }
}

export class RedisBackend implements Backend {
  private readonly servers = new Map<string, Server>();
  private readonly known = new Map<string, RedisRegistry>();
  private readonly seen = new WeakSet<object>();
  /** The app's own BullMQ clients, for readiness and to know when the app is done with Redis. */
  private readonly bullmqClients = new Set<RedisScriptClient>();
  private readonly owned: OwnedConnection | undefined;
  /** The owned client last added to its server (it is reopened after an idle close). */
  private ownedClient: RedisScriptClient | undefined;
  /** The app's BullMQ connections have all ended: no reopening the owned one until a new one comes. */
  private idle = false;
  private readonly listeners: (() => void)[] = [];

  constructor(private readonly settings: RedisSettings) {
    if (settings.owned) {
      this.owned = new OwnedConnection(
        settings.owned,
        settings.connectTimeoutMs,
        settings.holdsProcess,
      );
      this.ownClient();
    }
  }

  /** BullMQ 5 objects are always on Redis; BullMQ 6 ones when their backend has a client. */
  owns(user: QueueUserLike): boolean {
    const backend = backendOf(user);
    return backend === undefined || Boolean(backend.client);
  }

  async registryOf(user: QueueUserLike): Promise<Registry | undefined> {
    if (!this.seen.has(user)) {
      this.seen.add(user);
      this.idle = false; // a new BullMQ object: the owned connection may be of use again
      if (isBareGlideClient((user.opts as { connection?: unknown }).connection)) {
        warnRateLimited(
          'redis-bare-glide',
          `a Valkey GLIDE client was passed to BullMQ as is (queue "${user.name}"): BullMQ 6 takes it for connection options and connects to 127.0.0.1:6379 instead; wrap it with createValkeyGlideClient(client)`,
        );
      }
    }
    const client = await this.clientOf(user);
    if (!client) return undefined;
    this.trackBullmq(client);
    return this.add(client, user.opts.prefix ?? DEFAULT_CONFIG.queuePrefix);
  }

  onRegistry(listener: () => void): void {
    this.listeners.push(listener);
  }

  registries(): Registry[] {
    this.ownClient();
    return [...this.known.values()].filter((r) => r.server.reachable);
  }

  own(): Registry | undefined {
    this.idle = false; // a watch()ed loop or JOBWATCH_QUEUES reading is a use of the owned connection
    const own = this.ownClient();
    return own && this.add(own, this.settings.prefix);
  }

  near(prefix: string): Registry | undefined {
    const server = [...this.servers.values()].find((s) => s.reachable);
    return server && this.registry(server, prefix);
  }

  async readiness(timeoutMs: number): Promise<{ connections: number; errors: string[] }> {
    const byServer = new Map<string, RedisScriptClient>();
    for (const client of this.bullmqClients) {
      const identity = serverIdentity(client) ?? 'Redis';
      if (isUsable(client) && !byServer.has(identity)) byServer.set(identity, client);
    }
    const errors: string[] = [];
    await Promise.all(
      [...byServer.entries()].map(([identity, client]) =>
        withTimeout(ping(client), timeoutMs, 'Redis').catch((err: unknown) => {
          errors.push(`${identity}: ${err instanceof Error ? err.message : String(err)}`);
        }),
      ),
    );
    return { connections: byServer.size, errors };
  }

  async close(): Promise<void> {
    this.ownedClient = undefined;
    for (const server of this.servers.values()) server.close();
    await this.owned?.close();
  }

  private async clientOf(user: QueueUserLike): Promise<RedisScriptClient | undefined> {
    const client = backendOf(user)?.client ?? user.client;
    // BullMQ reports its own connection errors.
    return ((await client?.catch(() => undefined)) as RedisScriptClient | undefined) ?? undefined;
  }

  private add(client: RedisScriptClient, prefix: string): RedisRegistry {
    const identity = serverIdentity(client) ?? `client:${this.servers.size}`;
    let server = this.servers.get(identity);
    if (!server) {
      server = new Server(identity, this.settings.stuckAfterMs, this.settings.holdsProcess);
      this.servers.set(identity, server);
    }
    server.add(client);
    return this.registry(server, prefix);
  }

  private registry(server: Server, prefix: string): RedisRegistry {
    const key = `redis ${server.identity} ${prefix}`;
    let registry = this.known.get(key);
    if (!registry) {
      registry = new RedisRegistry(server, prefix, this.settings.connectTimeoutMs);
      this.known.set(key, registry);
      for (const listener of this.listeners) listener();
    }
    return registry;
  }

  /** The owned connection, reopened (lazily) if it was closed since. */
  private ownClient(): RedisScriptClient | undefined {
    if (!this.owned || this.idle) return undefined;
    const client = this.owned.get();
    if (client !== this.ownedClient) {
      this.ownedClient = client;
      this.add(client, this.settings.prefix);
    }
    return client;
  }

  /** When the app's last BullMQ connection ends, the owned one has no more use: close it. */
  private trackBullmq(client: RedisScriptClient): void {
    if (this.bullmqClients.has(client)) return;
    this.bullmqClients.add(client);
    const ended = () => {
      for (const c of this.bullmqClients) if (!isUsable(c)) this.bullmqClients.delete(c);
      if (this.bullmqClients.size > 0) return;
      for (const server of this.servers.values()) server.close();
      if (this.ownedClient) {
        this.ownedClient = undefined;
        this.idle = true;
        void this.owned?.close();
      }
    };
    // ioredis and BullMQ's adapters say 'end'; a node-redis client closed by the app only
    // 'close', which ioredis also says at every reconnect (so not once: ended() checks).
    client.on?.('end', ended);
    client.on?.('close', ended);
  }
}

/** `redis://host:port/db#prefix` (a cluster: `redis-cluster://seeds#prefix`). */
function redisScope(identity: string, prefix: string): string {
  if (identity.startsWith('cluster:')) return `redis-cluster://${identity.slice(8)}#${prefix}`;
  // `client:N`: a client that names no server (Bun's), scoped as one server of its own.
  return `redis://${identity}#${prefix}`;
}

/** PING through the client's own method, or a script on BullMQ 6's adapters that have none. */
function ping(client: RedisScriptClient): Promise<unknown> {
  const { ping: own } = client as Pingable;
  return typeof own === 'function' ? own.call(client) : runScript(client, PING, []);
}
