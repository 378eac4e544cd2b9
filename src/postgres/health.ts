// Worker health on BullMQ 6's PostgreSQL backend: where the heartbeat writer
// sends the beats of workers on PostgreSQL, and what the registry view reads
// there. One registry per database and schema in use (see registry-store.ts).

import type { HeartbeatErrors } from '../health/heartbeat-errors.js';
import type { WorkerInstance } from '../health/instances.js';
import type { RegistryRead, RegistryStore } from '../health/registry/store.js';
import type { QueueUserLike } from '../lifecycle.js';
import { describeError, logInfo, warnRateLimited } from '../log.js';
import { withTimeout } from '../redis/access.js';
import { databaseIdentity, PostgresRegistries, postgresBackendOf } from './backend.js';
import { postgresFailureReason } from './errors.js';
import { type PostgresRegistryStore, RegistryUnavailableError } from './registry-store.js';

export interface PostgresRead {
  source: { key: string; prefix: string };
  read?: RegistryRead;
  error?: string;
  /** performance.now() when the read returned. */
  at: number;
}

export class PostgresHealth {
  private readonly registries = new PostgresRegistries();
  private readonly labels = new Map<PostgresRegistryStore, string>();
  /** Registries that cannot work here, and why (said once each). */
  readonly unavailable = new Map<string, string>();

  /** `url` (JOBWATCH_POSTGRES_URL, the CLI's --postgres): a registry to read with jobwatch's own pool. */
  constructor(url?: string, connectTimeoutMs = 5000) {
    if (url === undefined) return;
    const { store, label } = this.registries.storeAt(url, connectTimeoutMs);
    this.labels.set(store, label);
  }

  /** Learns the registry of a BullMQ object on PostgreSQL (so it is read); its label, or undefined. */
  learn(user: QueueUserLike): { store: PostgresRegistryStore; label: string } | undefined {
    const backend = postgresBackendOf(user);
    if (!backend) return undefined;
    const store = this.registries.storeFor(user)!;
    const label = `PostgreSQL ${databaseIdentity(backend)}`;
    this.labels.set(store, label);
    return { store, label };
  }

  /** Writes a worker's beat when it is on PostgreSQL; false when it is not (Redis writes it). */
  async write(
    instance: WorkerInstance,
    settings: { intervalMs: number; stuckJobMs: number; retentionMs: number },
    errors?: Pick<HeartbeatErrors, 'count'>,
  ): Promise<boolean> {
    const known = this.learn(instance.worker);
    if (!known) return false;
    const { store, label } = known;
    // every beat that cannot land is counted, so the alert sees the worker stay invisible
    if (this.unavailable.has(label)) {
      errors?.count('noperm');
      return true;
    }
    try {
      const at = await store.writeBeat(
        instance.fields(settings),
        settings.retentionMs,
        instance.stopped,
      );
      instance.startedWrittenAt ||= at;
      instance.lastWrittenAt = at;
    } catch (err) {
      errors?.count(this.isUnavailable(label, err) ? 'noperm' : postgresFailureReason(err));
      if (!this.unavailable.has(label)) this.failed(label, `heartbeat of ${instance.name}`, err);
    }
    return true;
  }

  /**
   * The registries that can work here, for the fleet-view lease: a store whose
   * tables cannot be created never holds it (said once, as for its beats).
   */
  sources(): {
    key: string;
    prefix: string;
    store: Pick<RegistryStore, 'lease' | 'releaseLease'>;
  }[] {
    return this.registries.stores().flatMap((store) => {
      const label = this.labelOf(store);
      if (this.unavailable.has(label)) return [];
      const lease: RegistryStore['lease'] = (holder, ttlMs, takeOver) =>
        store.lease(holder, ttlMs, takeOver).catch((err: unknown) => {
          // Not holding it while the database is away: the row lapses on its own.
          if (!this.isUnavailable(label, err)) this.failed(label, 'the fleet-view lease', err);
          return false;
        });
      const releaseLease = (holder: string) => store.releaseLease(holder);
      return [{ key: label, prefix: label, store: { lease, releaseLease } }];
    });
  }

  /** One bounded read of each registry `wanted` (by its key, as in sources()). */
  reads(timeoutMs: number, wanted: (key: string) => boolean): Promise<PostgresRead[]> {
    const stores = this.registries.stores().filter((store) => wanted(this.labelOf(store)));
    return Promise.all(
      stores.map(async (store) => {
        const label = this.labelOf(store);
        const source = { key: label, prefix: label };
        if (this.unavailable.has(label)) {
          return { source, error: this.unavailable.get(label), at: performance.now() };
        }
        try {
          const read = await withTimeout(store.read(), timeoutMs, 'reading the worker registry');
          return { source, read, at: performance.now() };
        } catch (err) {
          if (this.isUnavailable(label, err))
            return { source, error: err.message, at: performance.now() };
          const error = describeError(err);
          warnRateLimited(
            `registry-read:${label}`,
            `worker registry unreadable (${label}): ${error}`,
          );
          return { source, error, at: performance.now() };
        }
      }),
    );
  }

  /** `unavailable (why)` for /health/queues while a registry cannot work here; undefined otherwise. */
  status(): string | undefined {
    const reasons = [...this.unavailable].map(([label, why]) => `${label}: ${why}`);
    return reasons.length > 0 ? `unavailable (${reasons.join('; ')})` : undefined;
  }

  /** A statement that failed now (the database is away, say): one line a minute; the next beat retries. */
  private failed(label: string, what: string, err: unknown): void {
    warnRateLimited(
      `postgres:${label}:${what}`,
      `${what} on ${label} failed (retrying every beat): ${describeError(err)}`,
    );
  }

  private labelOf(store: PostgresRegistryStore): string {
    return this.labels.get(store) ?? `PostgreSQL ${store.schema}`;
  }

  /** True (and said once) when `err` means this registry cannot work here at all. */
  private isUnavailable(label: string, err: unknown): err is RegistryUnavailableError {
    if (!(err instanceof RegistryUnavailableError)) return false;
    if (!this.unavailable.has(label)) {
      this.unavailable.set(label, err.message);
      logInfo(
        `heartbeats are unavailable on ${label}: ${err.message}; jobs, tracing and metrics are unaffected`,
      );
    }
    return true;
  }

  close(): Promise<void> {
    return this.registries.close();
  }
}
