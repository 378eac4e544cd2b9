// The health report served at /health/queues and printed by `jobwatch check`
// and `jobwatch status --json`: one shape, one rule for "healthy".
//
// Unhealthy when a Redis did not answer, or when a known worker is down for a
// reason other than a deliberate stop (dead: beats stopped; hung: a stuck job
// or a watched loop that stopped beating). A worker stopped cleanly (deploy,
// scale-down) shows alive=false but does not make the report unhealthy.

import type { RegistrySnapshot, WorkerGroup } from './view/view.js';

/** Jobs per queue and state (the states of bullmq.queue.jobs). */
export type QueueCounts = Record<string, Record<string, number>>;

export interface WorkerReport {
  alive: boolean;
  /** worker.status */
  status: 0 | 1;
  queue: string;
  kind: 'worker' | 'task';
  /** running | stopped | dead | hung: the best state among the instances. */
  state: string;
  reason: string;
  lastSeen: string | null;
  pid: number;
  host: string;
  processed: number;
  failed: number;
  activeJobs: number;
  oldestActiveJobAgeSeconds: number;
  /** Instances per state (bullmq.worker.instances): a partly dead fleet is alive with dead > 0. */
  instanceStates: Record<'running' | 'hung' | 'dead' | 'stopped', number>;
  instances: {
    id: string;
    host: string;
    pid: number;
    state: string;
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
  status: 'healthy' | 'unhealthy';
  timestamp: string;
  redis: { reachable: boolean; errors: string[] };
  /**
   * Present when heartbeats do not reach a registry: `unavailable (reason: …)`
   * while Redis refuses them, or a BullMQ backend without a registry.
   */
  heartbeats?: string;
  /** `fleet`: every worker in the registry; `self`: this process's own workers only. */
  scope: 'fleet' | 'self';
  queues: QueueCounts;
  workers: Record<string, WorkerReport>;
}

const STATE_RANK = ['running', 'hung', 'stopped', 'dead'];
const iso = (ms: number) => (ms > 0 ? new Date(ms).toISOString() : null);

/** A group counts against health when it is down and not every instance stopped on purpose. */
export function isFailing(group: WorkerGroup): boolean {
  return !group.alive && group.instances.some((i) => i.verdict.state !== 'stopped');
}

export function buildReport(snapshot: RegistrySnapshot, queues: QueueCounts): HealthReport {
  const workers: Record<string, WorkerReport> = {};
  const names = new Map<string, number>();
  for (const group of snapshot.workers) names.set(group.name, (names.get(group.name) ?? 0) + 1);
  for (const group of snapshot.workers) {
    const key = names.get(group.name)! > 1 ? `${group.name}:${group.queue}` : group.name;
    workers[key] = workerReport(group);
  }
  const errors = snapshot.sources.flatMap((s) => (s.error ? [`${s.prefix}: ${s.error}`] : []));
  const healthy = snapshot.storeReachable && !snapshot.workers.some(isFailing);
  const report: HealthReport = {
    status: healthy ? 'healthy' : 'unhealthy',
    timestamp: new Date(snapshot.now).toISOString(),
    redis: { reachable: snapshot.storeReachable, errors },
    scope: snapshot.fleet ? 'fleet' : 'self',
    queues,
    workers,
  };
  if (snapshot.heartbeats) report.heartbeats = snapshot.heartbeats;
  else if (snapshot.heartbeatsUnavailable.length > 0) {
    report.heartbeats = `unavailable for ${snapshot.heartbeatsUnavailable.join(', ')}: the worker registry needs the Redis backend`;
  }
  return report;
}

function workerReport(group: WorkerGroup): WorkerReport {
  const ordered = [...group.instances].sort(
    (a, b) =>
      STATE_RANK.indexOf(a.verdict.state) - STATE_RANK.indexOf(b.verdict.state) ||
      b.lastBeat - a.lastBeat,
  );
  const best = ordered[0]!;
  return {
    alive: group.alive,
    status: group.alive ? 1 : 0,
    queue: group.queue,
    kind: group.kind,
    state: best.verdict.state,
    reason: best.verdict.reason,
    lastSeen: iso(group.lastSeen),
    pid: best.pid,
    host: best.host,
    processed: sum(group, 'processed'),
    failed: sum(group, 'failed'),
    activeJobs: group.activeJobs,
    oldestActiveJobAgeSeconds: group.oldestActiveJobAgeMs / 1000,
    instanceStates: countStates(group),
    instances: ordered.map((i) => ({
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

function countStates(group: WorkerGroup): WorkerReport['instanceStates'] {
  const counts = { running: 0, hung: 0, dead: 0, stopped: 0 };
  for (const i of group.instances) counts[i.verdict.state]++;
  return counts;
}

function sum(group: WorkerGroup, field: 'processed' | 'failed'): number {
  return group.instances.reduce((total, i) => total + i[field], 0);
}
