// Which backend holds each BullMQ object's data, for worker health and queue
// depth: the first backend that owns it (Redis, then PostgreSQL). An object on
// a backend jobwatch has no registry for is said once; its jobs are traced and
// counted as usual, its workers report only from memory.

import { backendOf } from '../bullmq-objects.js';
import type { JobwatchConfig } from '../config.js';
import type { QueueUserLike } from '../lifecycle.js';
import { logInfo } from '../log.js';
import type { Backend, Registry } from './backend.js';
import { PostgresBackend } from './postgres/backend.js';
import { RedisBackend } from './redis/backend.js';
import { parseTarget } from './redis/owned.js';

/** The shortest silence after which a client counts as stuck (backends/redis/server.ts). */
const MIN_STUCK_AFTER_MS = 2000;

export interface BackendSettings {
  /** jobwatch's own Redis (JOBWATCH_REDIS_URL / --redis) and the setting that named it. */
  redisUrl: string | undefined;
  redisUrlSetting: string;
  /** The BullMQ prefix of jobwatch's own Redis connection (JOBWATCH_QUEUE_PREFIX). */
  prefix: string;
  /** jobwatch's own PostgreSQL (JOBWATCH_POSTGRES_URL / --postgres). */
  postgresUrl: string | undefined;
  connectTimeoutMs: number;
  /** A connection whose jobwatch call goes unanswered this long is routed around (a beat interval). */
  stuckAfterMs: number;
  /** The CLI: its own connections keep the process alive like any client's. */
  holdsProcess?: boolean;
}

export class Backends {
  private readonly backends: Backend[];
  /** BullMQ backends in use that no jobwatch backend serves (no worker registry there). */
  readonly unsupported = new Set<string>();

  /** The backends of a process, with jobwatch's own connections as its settings name them. */
  static fromConfig(
    config: Pick<
      JobwatchConfig,
      'redisUrl' | 'queuePrefix' | 'postgresUrl' | 'collectTimeoutMs' | 'heartbeatIntervalMs'
    >,
  ): Backends {
    return new Backends({
      redisUrl: config.redisUrl,
      redisUrlSetting: 'JOBWATCH_REDIS_URL',
      prefix: config.queuePrefix,
      postgresUrl: config.postgresUrl,
      connectTimeoutMs: config.collectTimeoutMs,
      // A beat's worth of silence, but never less than a busy Redis may take to answer.
      stuckAfterMs: Math.max(config.heartbeatIntervalMs, MIN_STUCK_AFTER_MS),
    });
  }

  constructor(settings: BackendSettings) {
    this.backends = [
      new RedisBackend({
        owned:
          settings.redisUrl === undefined
            ? undefined
            : parseTarget(settings.redisUrl, settings.redisUrlSetting),
        prefix: settings.prefix,
        connectTimeoutMs: settings.connectTimeoutMs,
        holdsProcess: settings.holdsProcess ?? false,
        stuckAfterMs: settings.stuckAfterMs,
      }),
      new PostgresBackend({
        url: settings.postgresUrl,
        connectTimeoutMs: settings.connectTimeoutMs,
      }),
    ];
  }

  /** The registry of a BullMQ object (learnt now if it was not known), or undefined on an unsupported backend. */
  async registryOf(user: QueueUserLike): Promise<Registry | undefined> {
    const backend = this.backends.find((b) => b.owns(user));
    if (backend) return backend.registryOf(user);
    const name = backendOf(user)?.constructor.name ?? 'backend';
    if (!this.unsupported.has(name)) {
      this.unsupported.add(name);
      logInfo(
        `heartbeats are unavailable for BullMQ's ${name} (the worker registry needs Redis or PostgreSQL); tracing and metrics are unaffected`,
      );
    }
    return undefined;
  }

  /** Learns a BullMQ object's registry, without waiting for it. */
  adopt(user: QueueUserLike): void {
    void this.registryOf(user);
  }

  onRegistry(listener: () => void): void {
    for (const backend of this.backends) backend.onRegistry(listener);
  }

  registries(): Registry[] {
    return this.backends.flatMap((b) => b.registries());
  }

  /** Where watch()ed loops beat: jobwatch's own connection, else the first registry known. */
  taskRegistry(): Registry | undefined {
    return this.own() ?? this.registries()[0];
  }

  /** Where JOBWATCH_QUEUES (under `prefix`) are read: jobwatch's own connection, else one the app opened. */
  queueRegistry(prefix: string): Registry | undefined {
    return this.own() ?? this.backends.map((b) => b.near(prefix)).find(Boolean);
  }

  private own(): Registry | undefined {
    return this.backends.map((b) => b.own()).find(Boolean);
  }

  async readiness(timeoutMs: number): Promise<{ connections: number; errors: string[] }> {
    const results = await Promise.all(this.backends.map((b) => b.readiness(timeoutMs)));
    return {
      connections: results.reduce((n, r) => n + r.connections, 0),
      errors: results.flatMap((r) => r.errors),
    };
  }

  async close(): Promise<void> {
    await Promise.all(this.backends.map((b) => b.close()));
  }
}
