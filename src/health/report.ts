// The health report served at /health/queues and printed by `jobwatch check`
// and `jobwatch status --json`: one shape, one rule for each status.
//
//   healthy    every worker has a live instance (running or paused), every
//              registry read answered
//   degraded   the same, but some instances are dead or hung (the worker
//              runs with less capacity than deployed)
//   unhealthy  a worker is down for a reason other than a deliberate stop:
//              every instance dead or hung
//   unknown    the report cannot say: a registry did not answer or refuses
//              this process's heartbeats, or a fleet read found no worker at
//              all (the wrong store, prefix or db?)
// A worker stopped cleanly (deploy, scale-down) shows alive=false and state
// stopped, and counts against nothing: stops are planned.

import { INSTANCE_STATES, type InstanceState } from '../registry/entry.js';
import type { RegistrySnapshot, StoreState, WorkerGroup } from './view/view.js';

/** Jobs per queue and state (the states of bullmq.queue.jobs). */
export type QueueCounts = Record<string, Record<string, number>>;

export type HealthStatus = 'healthy' | 'degraded' | 'unhealthy' | 'unknown';

export interface WorkerReport {
  /** The scope of the registry its instances beat into (jobwatch.registry). */
  registry: string;
  alive: boolean;
  /** worker.status */
  status: 0 | 1;
  queue: string;
  kind: 'worker' | 'task';
  /** The best state among the instances (running if one runs). */
  state: InstanceState;
  reason: string;
  lastSeen: string | null;
  pid: number;
  host: string;
  processed: number;
  failed: number;
  activeJobs: number;
  oldestActiveJobAgeSeconds: number;
  /** Instances per state (bullmq.worker.instances): a partly dead fleet is alive with dead > 0. */
  instanceStates: Record<InstanceState, number>;
  instances: {
    id: string;
    host: string;
    pid: number;
    state: InstanceState;
    reason: string;
    lastSeen: string | null;
    startedAt: string | null;
    processed: number;
    failed: number;
    active: number;
    jobwatchVersion: string;
    bullmqVersion: string;
  }[];
}

export interface HealthReport {
  status: HealthStatus;
  /** Why the status is not healthy, in one line. */
  reason?: string;
  timestamp: string;
  /** `fleet`: every worker in the registries read; `self`: this process's own workers only. */
  scope: 'fleet' | 'self';
  /** The registries read, whether they answered, and what they held. */
  stores: StoreState[];
  /**
   * Present when heartbeats do not reach a registry: `unavailable (reason: …)`
   * while the store refuses them, or a BullMQ backend without a registry.
   */
  heartbeats?: string;
  queues: QueueCounts;
  workers: Record<string, WorkerReport>;
}

const iso = (ms: number) => (ms > 0 ? new Date(ms).toISOString() : null);

/** A worker counts against health when it is down and not every instance stopped on purpose. */
export function isFailing(group: WorkerGroup): boolean {
  return !group.alive && group.state !== 'stopped';
}

function isDegraded(group: WorkerGroup): boolean {
  return (
    group.alive &&
    group.instances.some((i) => i.verdict.state === 'dead' || i.verdict.state === 'hung')
  );
}

export function buildReport(snapshot: RegistrySnapshot, queues: QueueCounts): HealthReport {
  const workers: Record<string, WorkerReport> = {};
  const keys = reportKeys(snapshot.workers);
  snapshot.workers.forEach((group, i) => {
    workers[keys[i]!] = workerReport(group);
  });
  const { status, reason } = verdictOf(snapshot, keys);
  const report: HealthReport = {
    status,
    ...(reason === undefined ? {} : { reason }),
    timestamp: new Date(snapshot.now).toISOString(),
    scope: snapshot.fleet ? 'fleet' : 'self',
    stores: snapshot.stores,
    queues,
    workers,
  };
  if (snapshot.heartbeats) report.heartbeats = snapshot.heartbeats;
  else if (snapshot.heartbeatsUnavailable.length > 0) {
    report.heartbeats = `unavailable for ${snapshot.heartbeatsUnavailable.join(', ')}: the worker registry needs Redis or PostgreSQL`;
  }
  return report;
}

function verdictOf(
  snapshot: RegistrySnapshot,
  keys: string[],
): { status: HealthStatus; reason?: string } {
  const failed = snapshot.stores.filter((s) => !s.ok);
  if (failed.length > 0) {
    return {
      status: 'unknown',
      reason: `cannot read ${failed.map((s) => `${s.registry} (${s.error})`).join('; ')}`,
    };
  }
  if (!snapshot.storeReachable) {
    return { status: 'unknown', reason: `the registry is out of reach: ${snapshot.heartbeats}` };
  }
  if (snapshot.heartbeats) {
    // This process's own workers run, but no one else can see them (nor see them die).
    return { status: 'unknown', reason: `heartbeats ${snapshot.heartbeats}` };
  }
  if (snapshot.fleet && snapshot.workers.length === 0) {
    const read = snapshot.stores.map((s) => s.registry).join(', ') || 'no registry';
    return {
      status: 'unknown',
      reason: `no worker in ${read}: nothing has registered there (the wrong store, prefix or database?)`,
    };
  }
  const down = snapshot.workers.findIndex(isFailing);
  if (down >= 0) {
    const group = snapshot.workers[down]!;
    return {
      status: 'unhealthy',
      reason: `worker ${keys[down]} is ${group.state}: ${bestReason(group)}`,
    };
  }
  const degraded = snapshot.workers.filter(isDegraded);
  if (degraded.length > 0) {
    return {
      status: 'degraded',
      reason: `${degraded.length} worker${degraded.length > 1 ? 's run' : ' runs'} with dead or hung instances`,
    };
  }
  return { status: 'healthy' };
}

/** Report keys: the worker's name, `name:queue` where names repeat, `name:queue@registry` where those do. */
function reportKeys(groups: WorkerGroup[]): string[] {
  const count = (key: (g: WorkerGroup) => string) => {
    const counts = new Map<string, number>();
    for (const g of groups) counts.set(key(g), (counts.get(key(g)) ?? 0) + 1);
    return (g: WorkerGroup) => counts.get(key(g))!;
  };
  const byName = count((g) => g.name);
  const byQueue = count((g) => `${g.name}:${g.queue}`);
  return groups.map((g) => {
    if (byName(g) === 1) return g.name;
    if (byQueue(g) === 1) return `${g.name}:${g.queue}`;
    return `${g.name}:${g.queue}@${g.registry}`;
  });
}

function ordered(group: WorkerGroup) {
  return [...group.instances].sort(
    (a, b) =>
      INSTANCE_STATES.indexOf(a.verdict.state) - INSTANCE_STATES.indexOf(b.verdict.state) ||
      b.lastBeat - a.lastBeat,
  );
}

function bestReason(group: WorkerGroup): string {
  return ordered(group)[0]?.verdict.reason ?? '';
}

function workerReport(group: WorkerGroup): WorkerReport {
  const instances = ordered(group);
  const best = instances[0]!;
  return {
    registry: group.registry,
    alive: group.alive,
    status: group.alive ? 1 : 0,
    queue: group.queue,
    kind: group.kind,
    state: group.state,
    reason: best.verdict.reason,
    lastSeen: iso(group.lastSeen),
    pid: best.pid,
    host: best.host,
    processed: sum(group, 'processed'),
    failed: sum(group, 'failed'),
    activeJobs: group.activeJobs,
    oldestActiveJobAgeSeconds: group.oldestActiveJobAgeMs / 1000,
    instanceStates: countStates(group),
    instances: instances.map((i) => ({
      id: i.id,
      host: i.host,
      pid: i.pid,
      state: i.verdict.state,
      reason: i.verdict.reason,
      lastSeen: iso(i.lastBeat),
      startedAt: iso(i.startedAt),
      processed: i.processed,
      failed: i.failed,
      active: i.active,
      jobwatchVersion: i.jobwatchVersion,
      bullmqVersion: i.bullmqVersion,
    })),
  };
}

function countStates(group: WorkerGroup): Record<InstanceState, number> {
  const counts = Object.fromEntries(INSTANCE_STATES.map((s) => [s, 0])) as Record<
    InstanceState,
    number
  >;
  for (const i of group.instances) counts[i.verdict.state]++;
  return counts;
}

function sum(group: WorkerGroup, field: 'processed' | 'failed'): number {
  return group.instances.reduce((total, i) => total + i[field], 0);
}
