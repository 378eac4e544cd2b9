// The registry view: what this process says about workers, for the worker
// gauges, /health/queues and the CLI.
//
// Who reads what:
//   - Every process knows its own instances from memory (self-report): no
//     registry read at all.
//   - Registry-derived verdicts come from the holder of the registry's lease
//     (lease.ts). The CLI reads every registry it knows.
//
// Cost: the holder reads the registry in pages (registry/store.ts), at most
// once per min(JOBWATCH_COLLECT_CACHE_MS, interval), never waiting longer than
// JOBWATCH_COLLECT_TIMEOUT_MS. A cached read is re-judged at the current
// (extrapolated) store time, and the cache ends early at the first moment a
// verdict could change, so caching never delays a 0.

import type { Registry } from '../../backends/backend.js';
import type { Backends } from '../../backends/router.js';
import { describeError, warnRateLimited } from '../../log.js';
import { isUnreachable } from '../../registry/failures.js';
import { assess } from '../../registry/liveness.js';
import { MAX_INSTANCES_PER_REGISTRY, type RegistryRead } from '../../registry/store.js';
import { withTimeout } from '../../timeout.js';
import type { HeartbeatWriter } from '../heartbeat.js';
import { groupInstances, type InstanceView, type WorkerGroup } from './groups.js';
import { Lease } from './lease.js';

export type { InstanceView, WorkerGroup } from './groups.js';

/** What a view read of one registry, for reports: where, whether it answered, what it held. */
export interface StoreState {
  /** The registry's scope (the jobwatch.registry label). */
  registry: string;
  /** Redis, PostgreSQL. */
  store: string;
  /** False when the last read failed (its error says why). */
  ok: boolean;
  error?: string;
  /** Instances read (from the last good read while this one failed). */
  instances: number;
  /** Entries skipped as malformed in the last read. */
  skipped: number;
}

export interface RegistrySnapshot {
  /** Store time of this judgement (ms); the local clock only when no store answered. */
  now: number;
  /** False when a known store did not answer within the timeout (refusals do not count). */
  storeReachable: boolean;
  /** True when the registry was read (this process holds the lease, or a fleet read was asked). */
  fleet: boolean;
  /** The registries read (none unless `fleet`). */
  stores: StoreState[];
  /** BullMQ backends in use that have no worker registry. */
  heartbeatsUnavailable: string[];
  /** `unavailable (reason: …)` while a registry refuses this process's heartbeats. */
  heartbeats: string | undefined;
  instances: InstanceView[];
  workers: WorkerGroup[];
}

export interface ViewSettings {
  /** JOBWATCH_REGISTRY_VIEW: take part in the lease (else report only this process's instances). */
  readRegistry: boolean;
  cacheMs: number;
  timeoutMs: number;
  intervalMs: number;
  /** `jobwatch monitor`: its claim on the lease wins over any process's. */
  monitor?: boolean;
}

/** What to report: the lease decides (`auto`), or the whole registry (the CLI). */
export type SnapshotScope = 'auto' | 'fleet';

interface CachedRead {
  registry: Registry;
  read?: Pick<RegistryRead, 'now' | 'instances' | 'malformed'>;
  /** While reads fail: the last good read (its dead, hung and stopped verdicts stay shown). */
  stale?: { read: Pick<RegistryRead, 'now' | 'instances'>; at: number };
  error?: string;
  /** The error meant the store is out of reach (not a refusal). */
  unreachable?: boolean;
  /** performance.now() when the read returned. */
  at: number;
}

interface ScopeCache {
  reads: CachedRead[];
  validUntil: number;
  refreshing: Promise<void> | undefined;
}

export class RegistryView {
  private readonly lease: Lease;
  private readonly caches = new Map<SnapshotScope, ScopeCache>();
  /** Entries left out of fleet reads (bullmq.worker.registry.dropped): by the cap, and malformed ones. */
  readonly dropped = { cap: 0, malformed: 0 };

  constructor(
    private readonly backends: Backends,
    private readonly writer: HeartbeatWriter,
    private readonly settings: ViewSettings,
  ) {
    this.lease = new Lease(
      backends,
      writer.errors,
      {
        intervalMs: settings.intervalMs,
        timeoutMs: settings.timeoutMs,
        monitor: settings.monitor ?? false,
      },
      // the next collection reads (or stops reading) at once
      () => {
        this.cacheOf('auto').validUntil = 0;
      },
    );
  }

  /** This process's name on the lease. */
  get holder(): string {
    return this.lease.holder;
  }

  /** Takes part in the lease, once now and then every interval. */
  start(): void {
    if (this.settings.readRegistry) this.lease.start();
  }

  /** True while this process exports the fleet view of at least one registry. */
  get leading(): boolean {
    return this.lease.leading;
  }

  close(): Promise<void> {
    return this.lease.close();
  }

  async snapshot(scope: SnapshotScope = 'auto'): Promise<RegistrySnapshot> {
    const cache = this.cacheOf(scope);
    if (performance.now() >= cache.validUntil) {
      cache.refreshing ??= this.refresh(cache, scope).finally(() => {
        cache.refreshing = undefined;
      });
      await cache.refreshing;
    }
    return this.judge(cache.reads, scope === 'fleet' || this.leading);
  }

  private cacheOf(scope: SnapshotScope): ScopeCache {
    let cache = this.caches.get(scope);
    if (!cache) {
      cache = { reads: [], validUntil: 0, refreshing: undefined };
      this.caches.set(scope, cache);
    }
    return cache;
  }

  private async refresh(cache: ScopeCache, scope: SnapshotScope): Promise<void> {
    const registries = this.backends
      .registries()
      .filter((r) => scope === 'fleet' || this.lease.holds(r));
    const previous = new Map(cache.reads.map((r) => [r.registry.key, r]));
    cache.reads = await Promise.all(
      registries.map(async (registry) => {
        const fresh = await this.read(registry, scope);
        if (fresh.read) return fresh;
        // A failed read keeps what the last good one knew of the dead, hung and stopped.
        const last = previous.get(registry.key);
        const stale = last?.read ? { read: last.read, at: last.at } : last?.stale;
        return stale ? { ...fresh, stale } : fresh;
      }),
    );
    const now = performance.now();
    let until = now + this.settings.cacheMs;
    for (const entry of cache.reads) {
      for (const instance of entry.read?.instances ?? []) {
        const { validUntil } = assess(instance, entry.read!.now);
        until = Math.min(until, entry.at + (validUntil - entry.read!.now));
      }
    }
    cache.validUntil = until;
  }

  private async read(registry: Registry, scope: SnapshotScope): Promise<CachedRead> {
    if (registry.unavailable !== undefined) {
      return { registry, error: registry.unavailable, at: performance.now() };
    }
    const handle = registry.handle();
    if (!handle) return { registry, error: 'no open connection', at: performance.now() };
    try {
      const read = await withTimeout(
        handle.store.read(scope === 'fleet' ? 'all' : 'verdicts'),
        this.settings.timeoutMs,
        'reading the worker registry',
      );
      if (read.dropped > 0) this.reportDropped(registry, read.dropped);
      if (read.malformed.length > 0) this.reportMalformed(registry, read.malformed);
      return { registry, read, at: performance.now() };
    } catch (err) {
      const error = registry.unavailable ?? describeError(err);
      const unreachable = isUnreachable(registry.classify(err).reason);
      if (unreachable) {
        warnRateLimited(
          `registry-read:${registry.key}`,
          `worker registry unreadable (${registry.label}): ${error}`,
        );
      } else {
        this.writer.errors.record(registry, err, 'reading the worker registry');
      }
      return { registry, error, unreachable, at: performance.now() };
    }
  }

  private reportMalformed(registry: Registry, ids: string[]): void {
    this.dropped.malformed += ids.length;
    const named = ids.slice(0, 5).map((id) => JSON.stringify(id.slice(0, 64)));
    warnRateLimited(
      `registry-malformed:${registry.key}`,
      `worker registry (${registry.label}) holds ${ids.length} malformed entr${ids.length === 1 ? 'y' : 'ies'} (${named.join(', ')}${ids.length > 5 ? ', …' : ''}): skipped; counted in bullmq.worker.registry.dropped{reason="malformed"}`,
    );
  }

  private reportDropped(registry: Registry, count: number): void {
    this.dropped.cap += count;
    warnRateLimited(
      `registry-dropped:${registry.key}`,
      `worker registry (${registry.label}) holds more than ${MAX_INSTANCES_PER_REGISTRY} entries: ${count} of the oldest stopped ones are left out of the fleet view (never running, hung or dead ones); counted in bullmq.worker.registry.dropped{reason="cap"}`,
    );
  }

  private judge(reads: CachedRead[], fleet: boolean): RegistrySnapshot {
    const local = performance.now();
    const byId = new Map<string, InstanceView>();
    const shown = fleet ? reads : [];
    let now = 0;
    for (const entry of shown) {
      const registry = entry.registry.scope;
      if (entry.read) {
        // Store time now, from the read's server time plus the time elapsed here
        // (a duration, so this host's clock setting does not matter).
        const storeNow = entry.read.now + (local - entry.at);
        now = Math.max(now, storeNow);
        for (const instance of entry.read.instances) {
          const verdict = assess(instance, storeNow);
          byId.set(instance.id, { ...instance, verdict, local: false, registry });
        }
      } else if (entry.stale) {
        // Judged as of the last good read: what was down stays down; the live
        // report themselves (a silent one's series vanish, which the rules see).
        for (const instance of entry.stale.read.instances) {
          const verdict = assess(instance, entry.stale.read.now);
          if (!verdict.alive)
            byId.set(instance.id, { ...instance, verdict, local: false, registry });
        }
      }
    }
    for (const instance of this.writer.local()) {
      const fields = instance.snapshot(this.writer.settings);
      const verdict = assess({ ...fields, lastBeat: 0 }, 0);
      byId.set(fields.id, { ...fields, verdict, local: true, registry: instance.registry ?? '' });
    }
    const instances = [...byId.values()];
    const stores = shown.map((entry) => storeState(entry));
    return {
      now: Math.round(now || Date.now()),
      storeReachable: !shown.some((r) => r.unreachable) && !this.writer.errors.unreachable(),
      fleet,
      stores,
      heartbeatsUnavailable: [...this.backends.unsupported],
      heartbeats: this.writer.errors.status() ?? unavailableStatus(this.backends.registries()),
      instances,
      workers: groupInstances(instances, now),
    };
  }
}

function storeState(entry: CachedRead): StoreState {
  const { registry, read, stale, error } = entry;
  return {
    registry: registry.scope,
    store: registry.storeName,
    ok: error === undefined,
    ...(error === undefined ? {} : { error }),
    instances: (read ?? stale?.read)?.instances.length ?? 0,
    skipped: read?.malformed.length ?? 0,
  };
}

/** `unavailable (label: why; …)` while some registry cannot work here at all. */
function unavailableStatus(registries: Registry[]): string | undefined {
  const reasons = registries.flatMap((r) =>
    r.unavailable === undefined ? [] : [`${r.label}: ${r.unavailable}`],
  );
  return reasons.length > 0 ? `unavailable (${reasons.join('; ')})` : undefined;
}
