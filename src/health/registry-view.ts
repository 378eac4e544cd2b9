// The registry view: what this process knows about every worker sharing its
// Redis, for the worker.status gauges, /health/queues and the CLI.
//
// Cost: one read script (one EVALSHA) per (Redis server, prefix) per
// collection. A collection serves every caller for JOBWATCH_COLLECT_CACHE_MS
// and concurrent callers share one in-flight read; it never waits on Redis
// longer than JOBWATCH_COLLECT_TIMEOUT_MS. A cached read is re-judged at the
// current (extrapolated) Redis time, and the cache ends early at the first
// moment a verdict could change, so caching never delays a 0.
//
// Many views are harmless: each judges the same entries against the same
// Redis clock with the same rule (registry-keys.ts), so they agree; alerts
// aggregate with max by (bullmq_worker_name, messaging_destination_name).

import { describeError, warnRateLimited } from '../log.js';
import type { PostgresHealth } from '../postgres/health.js';
import { withTimeout } from '../redis/access.js';
import type { Connections, RegistrySource } from '../redis/connections.js';
import type { HeartbeatWriter } from './heartbeat.js';
import { assess, type InstanceFields, type Verdict } from './registry-keys.js';
import { type RegistryRead, readRegistry } from './registry-scripts.js';

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
  /** False when a known Redis did not answer within the timeout. */
  redisReachable: boolean;
  sources: SourceState[];
  /** Non-Redis BullMQ backends in use, where heartbeats are unavailable. */
  heartbeatsUnavailable: string[];
  instances: InstanceView[];
  workers: WorkerGroup[];
}

export interface ViewSettings {
  /** JOBWATCH_REGISTRY_VIEW: read other processes' entries too (else only this process's). */
  readRegistry: boolean;
  cacheMs: number;
  timeoutMs: number;
}

interface CachedRead {
  source: Pick<RegistrySource, 'key' | 'prefix'>;
  read?: RegistryRead;
  error?: string;
  /** performance.now() when the read returned. */
  at: number;
}

export class RegistryView {
  private cache: CachedRead[] = [];
  private validUntil = 0;
  private refreshing: Promise<void> | undefined;

  constructor(
    private readonly connections: Connections,
    private readonly writer: HeartbeatWriter,
    private readonly settings: ViewSettings,
    private readonly postgres?: PostgresHealth,
  ) {}

  async snapshot(): Promise<RegistrySnapshot> {
    if (this.settings.readRegistry && performance.now() >= this.validUntil) {
      this.refreshing ??= this.refresh().finally(() => {
        this.refreshing = undefined;
      });
      await this.refreshing;
    }
    return this.judge();
  }

  private async refresh(): Promise<void> {
    const sources = this.connections.sources();
    const [redis, postgres] = await Promise.all([
      Promise.all(sources.map((source) => this.read(source))),
      this.postgres?.reads(this.settings.timeoutMs) ?? [],
    ]);
    this.cache = [...redis, ...postgres];
    const now = performance.now();
    let until = now + this.settings.cacheMs;
    for (const entry of this.cache) {
      for (const instance of entry.read?.instances ?? []) {
        const { validUntil } = assess(instance, entry.read!.now);
        until = Math.min(until, entry.at + (validUntil - entry.read!.now));
      }
    }
    this.validUntil = until;
  }

  private async read(source: RegistrySource): Promise<CachedRead> {
    try {
      const read = await withTimeout(
        readRegistry(source.client, source.prefix),
        this.settings.timeoutMs,
        'reading the worker registry',
      );
      return { source, read, at: performance.now() };
    } catch (err) {
      const error = describeError(err);
      warnRateLimited(
        `registry-read:${source.key}`,
        `worker registry unreadable (${source.prefix}): ${error}`,
      );
      return { source, error, at: performance.now() };
    }
  }

  private judge(): RegistrySnapshot {
    const local = performance.now();
    const byId = new Map<string, InstanceView>();
    let now = 0;
    for (const entry of this.cache) {
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
    const sources = this.cache.map(({ source, error }) =>
      error ? { prefix: source.prefix, ok: false, error } : { prefix: source.prefix, ok: true },
    );
    return {
      now: Math.round(now || Date.now()),
      redisReachable: sources.every((s) => s.ok),
      sources,
      heartbeatsUnavailable: [...this.connections.unavailable],
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
