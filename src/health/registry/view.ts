// The registry view: what this process says about workers, for the worker
// gauges, /health/queues and the CLI.
//
// Who reads what:
//   - Every process knows its own instances from memory (self-report): no
//     Redis read at all.
//   - Registry-derived verdicts (other processes' dead, hung and stopped
//     instances, the per-name roll-up) come from ONE process per Redis and
//     prefix: the holder of a lease in Redis, taken with SET NX PX and renewed
//     every beat (TTL two beats), so a survivor takes over within about two
//     intervals of the holder's death. `jobwatch monitor` claims it over any
//     process (registry/redis-store.ts). A PostgreSQL registry (src/postgres)
//     has the same lease, in its own table. The CLI reads the whole registry.
//
// Cost: non-holders pay one O(1) lease call per interval and prefix. The
// holder reads the registry in pages of PAGE_SIZE, at most once per
// min(JOBWATCH_COLLECT_CACHE_MS, interval), never waiting longer than
// JOBWATCH_COLLECT_TIMEOUT_MS. A cached read is re-judged at the current
// (extrapolated) Redis time, and the cache ends early at the first moment a
// verdict could change, so caching never delays a 0.

import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import { describeError, guard, warnRateLimited } from '../../log.js';
import type { PostgresHealth } from '../../postgres/health.js';
import { isUsable, withTimeout } from '../../redis/access.js';
import type { Connections, RegistrySource } from '../../redis/connections.js';
import { isUnreachable, refusalReason } from '../../redis/errors.js';
import type { HeartbeatWriter } from '../heartbeat.js';
import { assess, type InstanceFields, MAX_INSTANCES_PER_PREFIX, type Verdict } from './keys.js';
import { redisStore } from './redis-store.js';
import type { RegistryRead, RegistryStore } from './store.js';

export interface InstanceView extends InstanceFields {
  verdict: Verdict;
  /** True for this process's own instances (known without Redis). */
  local: boolean;
}

export interface WorkerGroup {
  name: string;
  queue: string;
  kind: 'worker' | 'task';
  /** worker.status: 1 if at least one instance is alive. */
  alive: boolean;
  /** Largest Redis time of a beat among the instances (ms). */
  lastSeen: number;
  activeJobs: number;
  oldestActiveJobAgeMs: number;
  instances: InstanceView[];
}

export interface SourceState {
  prefix: string;
  ok: boolean;
  error?: string;
}

export interface RegistrySnapshot {
  /** Redis server time of this judgement (ms); the local clock only when no Redis answered. */
  now: number;
  /** False when a known Redis did not answer within the timeout (refusals do not count). */
  redisReachable: boolean;
  /** True when the registry was read (this process holds the lease, or a fleet read was asked). */
  fleet: boolean;
  sources: SourceState[];
  /** Non-Redis BullMQ backends in use, where heartbeats are unavailable. */
  heartbeatsUnavailable: string[];
  /** `unavailable (reason: …)` while Redis refuses this process's heartbeats. */
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
  source: Pick<RegistrySource, 'key' | 'prefix'>;
  read?: Pick<RegistryRead, 'now' | 'instances'> & { dropped?: number };
  error?: string;
  /** The error meant Redis is out of reach (not a refusal). */
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
  /** This process's name on the lease. */
  readonly holder: string;
  private readonly held = new Set<string>();
  private readonly caches = new Map<SnapshotScope, ScopeCache>();
  private timer: NodeJS.Timeout | undefined;
  /** Stopped entries left out of fleet reads because of the cap (bullmq.worker.registry.dropped). */
  dropped = 0;

  constructor(
    private readonly connections: Connections,
    private readonly writer: HeartbeatWriter,
    private readonly settings: ViewSettings,
    private readonly postgres?: PostgresHealth,
  ) {
    this.holder = `${settings.monitor ? 'monitor:' : ''}${hostname()}:${process.pid}:${randomUUID().slice(0, 8)}`;
  }

  /** Takes part in the lease, once now and then every interval. */
  start(): void {
    if (!this.settings.readRegistry || this.timer) return;
    const renew = () => guard('fleet lease', () => void this.renewLeases());
    this.timer = setInterval(renew, this.settings.intervalMs);
    this.timer.unref();
    // A Redis learnt later (the app's first Queue or Worker) is claimed at once, not a beat later.
    this.connections.onSource(renew);
    renew();
  }

  /** True while this process exports the fleet view for at least one Redis and prefix. */
  get leading(): boolean {
    return this.held.size > 0;
  }

  /** Stops renewing and gives held leases up, so another process takes over at its next beat. */
  async close(): Promise<void> {
    clearInterval(this.timer);
    this.timer = undefined;
    const held = this.stores().filter((s) => this.held.has(s.key));
    this.held.clear();
    await Promise.all(
      held.map(
        (s) =>
          withTimeout(
            s.store.releaseLease(this.holder),
            this.settings.timeoutMs,
            'releasing the fleet-view lease',
          ).catch(() => undefined), // it expires on its own within two beats
      ),
    );
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

  /** Every registry this process knows and its store: Redis prefixes and PostgreSQL schemas alike. */
  private stores(): {
    key: string;
    prefix: string;
    store: Pick<RegistryStore, 'lease' | 'releaseLease'>;
    /** False once the app closed the connection (a call can race a clean shutdown). */
    open: () => boolean;
  }[] {
    const redis = this.connections.sources().map((s) => ({
      key: s.key,
      prefix: s.prefix,
      store: redisStore(s.client, s.prefix),
      open: () => isUsable(s.client),
    }));
    const postgres = (this.postgres?.sources() ?? []).map((s) => ({ ...s, open: () => true }));
    return [...redis, ...postgres];
  }

  private async renewLeases(): Promise<void> {
    const ttl = 2 * this.settings.intervalMs;
    await Promise.all(
      this.stores().map(async (source) => {
        let holds = false;
        try {
          holds = await withTimeout(
            source.store.lease(this.holder, ttl, !!this.settings.monitor),
            this.settings.timeoutMs,
            'the fleet-view lease',
          );
        } catch (err) {
          // Unknown whether it still holds: the lease expires in Redis on its own if not.
          if (source.open()) this.writer.errors.record(err, source.prefix, 'the fleet-view lease');
          return;
        }
        if (holds === this.held.has(source.key)) return;
        if (holds) this.held.add(source.key);
        else this.held.delete(source.key);
        this.cacheOf('auto').validUntil = 0; // the next collection reads (or stops reading) at once
      }),
    );
  }

  private async refresh(cache: ScopeCache, scope: SnapshotScope): Promise<void> {
    const sources = this.connections
      .sources()
      .filter((s) => scope === 'fleet' || this.held.has(s.key));
    const [redis, postgres] = await Promise.all([
      Promise.all(sources.map((source) => this.read(source, scope))),
      this.postgres?.reads(
        this.settings.timeoutMs,
        (key) => scope === 'fleet' || this.held.has(key),
      ) ?? [],
    ]);
    cache.reads = [...redis, ...postgres];
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

  private async read(source: RegistrySource, scope: SnapshotScope): Promise<CachedRead> {
    try {
      const read = await withTimeout(
        redisStore(source.client, source.prefix).read(scope === 'fleet' ? 'all' : 'verdicts'),
        this.settings.timeoutMs,
        'reading the worker registry',
      );
      if (read.dropped > 0) this.reportDropped(source.prefix, read.dropped);
      return { source, read, at: performance.now() };
    } catch (err) {
      const error = describeError(err);
      const unreachable = isUnreachable(refusalReason(err));
      if (unreachable) {
        warnRateLimited(
          `registry-read:${source.key}`,
          `worker registry unreadable (${source.prefix}): ${error}`,
        );
      } else {
        this.writer.errors.record(err, source.prefix, 'reading the worker registry');
      }
      return { source, error, unreachable, at: performance.now() };
    }
  }

  private reportDropped(prefix: string, count: number): void {
    this.dropped += count;
    warnRateLimited(
      `registry-dropped:${prefix}`,
      `worker registry (${prefix}) holds more than ${MAX_INSTANCES_PER_PREFIX} entries: ${count} of the oldest stopped ones are left out of the fleet view (never running, hung or dead ones); counted in bullmq.worker.registry.dropped`,
    );
  }

  private judge(reads: CachedRead[], fleet: boolean): RegistrySnapshot {
    const local = performance.now();
    const byId = new Map<string, InstanceView>();
    const shown = fleet ? reads : [];
    let now = 0;
    for (const entry of shown) {
      if (!entry.read) continue;
      // Redis time now, from the read's server time plus the time elapsed here
      // (a duration, so this host's clock setting does not matter).
      const redisNow = entry.read.now + (local - entry.at);
      now = Math.max(now, redisNow);
      for (const instance of entry.read.instances) {
        byId.set(instance.id, { ...instance, verdict: assess(instance, redisNow), local: false });
      }
    }
    for (const instance of this.writer.local()) {
      const fields = instance.snapshot(this.writer.settings);
      const verdict = assess({ ...fields, lastBeat: 0 }, 0);
      byId.set(fields.id, { ...fields, verdict, local: true });
    }
    const instances = [...byId.values()];
    const sources = shown.map(({ source, error }) =>
      error ? { prefix: source.prefix, ok: false, error } : { prefix: source.prefix, ok: true },
    );
    return {
      now: Math.round(now || Date.now()),
      redisReachable: !shown.some((r) => r.unreachable) && !this.writer.errors.unreachable(),
      fleet,
      sources,
      heartbeatsUnavailable: [...this.connections.unavailable],
      heartbeats: this.writer.errors.status() ?? this.postgres?.status(),
      instances,
      workers: groupInstances(instances, now),
    };
  }
}

/** worker.status and its companions per (worker name, queue). */
function groupInstances(instances: InstanceView[], now: number): WorkerGroup[] {
  const groups = new Map<string, WorkerGroup>();
  for (const instance of instances) {
    const key = `${instance.name}\u0000${instance.queue}`;
    let group = groups.get(key);
    if (!group) {
      group = {
        name: instance.name,
        queue: instance.queue,
        kind: instance.kind,
        alive: false,
        lastSeen: 0,
        activeJobs: 0,
        oldestActiveJobAgeMs: 0,
        instances: [],
      };
      groups.set(key, group);
    }
    group.instances.push(instance);
    group.alive ||= instance.verdict.alive;
    group.lastSeen = Math.max(group.lastSeen, instance.lastBeat);
    // A dead or stopped instance's jobs are no longer its own (they stall back to wait).
    if (instance.verdict.state === 'running' || instance.verdict.state === 'hung') {
      const silent = instance.local ? 0 : Math.max(0, now - instance.lastBeat);
      group.activeJobs += instance.active;
      if (instance.oldestActiveMs > 0) {
        group.oldestActiveJobAgeMs = Math.max(
          group.oldestActiveJobAgeMs,
          instance.oldestActiveMs + silent,
        );
      }
    }
  }
  return [...groups.values()];
}
