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

export interface SourceState {
  /** The registry's label: the prefix on Redis, `PostgreSQL host:port/db schema`. */
  prefix: string;
  ok: boolean;
  error?: string;
}

export interface RegistrySnapshot {
  /** Store time of this judgement (ms); the local clock only when no store answered. */
  now: number;
  /** False when a known store did not answer within the timeout (refusals do not count). */
  storeReachable: boolean;
  /** True when the registry was read (this process holds the lease, or a fleet read was asked). */
  fleet: boolean;
  sources: SourceState[];
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
  read?: Pick<RegistryRead, 'now' | 'instances'>;
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
  /** Stopped entries left out of fleet reads because of the cap (bullmq.worker.registry.dropped). */
  dropped = 0;

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
    cache.reads = await Promise.all(registries.map((registry) => this.read(registry, scope)));
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

  private reportDropped(registry: Registry, count: number): void {
    this.dropped += count;
    warnRateLimited(
      `registry-dropped:${registry.key}`,
      `worker registry (${registry.label}) holds more than ${MAX_INSTANCES_PER_REGISTRY} entries: ${count} of the oldest stopped ones are left out of the fleet view (never running, hung or dead ones); counted in bullmq.worker.registry.dropped`,
    );
  }

  private judge(reads: CachedRead[], fleet: boolean): RegistrySnapshot {
    const local = performance.now();
    const byId = new Map<string, InstanceView>();
    const shown = fleet ? reads : [];
    let now = 0;
    for (const entry of shown) {
      if (!entry.read) continue;
      // Store time now, from the read's server time plus the time elapsed here
      // (a duration, so this host's clock setting does not matter).
      const storeNow = entry.read.now + (local - entry.at);
      now = Math.max(now, storeNow);
      for (const instance of entry.read.instances) {
        byId.set(instance.id, { ...instance, verdict: assess(instance, storeNow), local: false });
      }
    }
    for (const instance of this.writer.local()) {
      const fields = instance.snapshot(this.writer.settings);
      const verdict = assess({ ...fields, lastBeat: 0 }, 0);
      byId.set(fields.id, { ...fields, verdict, local: true });
    }
    const instances = [...byId.values()];
    const sources = shown.map(({ registry, error }) =>
      error ? { prefix: registry.label, ok: false, error } : { prefix: registry.label, ok: true },
    );
    return {
      now: Math.round(now || Date.now()),
      storeReachable: !shown.some((r) => r.unreachable) && !this.writer.errors.unreachable(),
      fleet,
      sources,
      heartbeatsUnavailable: [...this.backends.unsupported],
      heartbeats: this.writer.errors.status() ?? unavailableStatus(this.backends.registries()),
      instances,
      workers: groupInstances(instances, now),
    };
  }
}

/** `unavailable (label: why; …)` while some registry cannot work here at all. */
function unavailableStatus(registries: Registry[]): string | undefined {
  const reasons = registries.flatMap((r) =>
    r.unavailable === undefined ? [] : [`${r.label}: ${r.unavailable}`],
  );
  return reasons.length > 0 ? `unavailable (${reasons.join('; ')})` : undefined;
}
