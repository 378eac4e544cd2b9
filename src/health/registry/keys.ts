// The worker registry's shape and its one liveness rule. The heartbeat writer
// and every reader (registry view, health server, CLI) import this module, so
// "is this worker alive" is decided in exactly one place.
//
// Key shape, per BullMQ prefix (default `bull`), all in one Redis Cluster slot:
// the prefix's own hash tag when it has one (`{bull}`), else `{prefix}`.
//   {base} = bull:jobwatch:{bull}   ({bull}:jobwatch for the prefix `{bull}`)
//   {base}:beats           sorted set: member = instance id, score = Redis time
//                          (ms) of its last beat, for running and hung instances
//                          (so "who is dead" is a score range)
//   {base}:stopped         sorted set: the same for stopped instances, by stop time
//   {base}:instance:{id}   hash of InstanceFields, PEXPIRE retention
//   {base}:lease           the process exporting the fleet view (SET NX PX)
// Index members older than the retention are purged by every beat.
// An instance is one BullMQ Worker object (id = the Worker's own UUID) or one
// watch()ed background loop (id = `task-` + a UUID). Every time in the
// registry is Redis server time (TIME), never a host clock.

/** A worker is dead once this many of its own heartbeat intervals pass without a beat. */
export const MISSED_BEATS_FOR_DEAD = 3;

/** A watched loop is hung once this many of its own intervals pass without `beat()`. */
export const MISSED_TASK_BEATS_FOR_HUNG = 3;

/**
 * A dead worker's 0 must stay exported long enough for a `for: 5m` alert to
 * fire with margin (celery-exporter purges a dead worker so soon after
 * detecting it that its down alert can barely fire). Shorter retentions are
 * raised to this much past the detection.
 */
export const MIN_ZERO_VISIBLE_MS = 10 * 60_000;

export function effectiveRetentionMs(configuredMs: number, intervalMs: number): number {
  return Math.max(configuredMs, MISSED_BEATS_FOR_DEAD * intervalMs + MIN_ZERO_VISIBLE_MS);
}

/**
 * Upper bound on instances one fleet read keeps per prefix (running, hung and
 * dead first, then the newest stopped ones), so a registry flooded by deploy
 * leftovers never makes a collection unbounded.
 */
export const MAX_INSTANCES_PER_PREFIX = 10_000;

/** Instances per registry read command: each call stays well under a millisecond of Redis time. */
export const PAGE_SIZE = 100;

/** The hash-tagged base of every registry key of `prefix` (see the key shape above). */
export function registryBase(prefix: string): string {
  return /\{[^}]+\}/.test(prefix) ? `${prefix}:jobwatch` : `${prefix}:jobwatch:{${prefix}}`;
}

export function beatsKey(prefix: string): string {
  return `${registryBase(prefix)}:beats`;
}

export function stoppedKey(prefix: string): string {
  return `${registryBase(prefix)}:stopped`;
}

export function leaseKey(prefix: string): string {
  return `${registryBase(prefix)}:lease`;
}

export function instanceKeyPrefix(prefix: string): string {
  return `${registryBase(prefix)}:instance:`;
}

export function instanceKey(prefix: string, id: string): string {
  return instanceKeyPrefix(prefix) + id;
}

/** What the writer says about itself: 'hung' = alive but not making progress. */
export type WrittenStatus = 'running' | 'stopped' | 'hung';
/** What a reader concludes; 'dead' = its beats stopped (killed, crashed, or frozen). */
export type InstanceState = WrittenStatus | 'dead';

/** One registry hash, decoded. Times are Redis ms; ages and limits are ms. */
export interface InstanceFields {
  id: string;
  kind: 'worker' | 'task';
  /** bullmq.worker.name: the Worker's opts.name, else the queue name; the task name for watch(). */
  name: string;
  /** messaging.destination.name; empty for watch()ed loops. */
  queue: string;
  host: string;
  pid: number;
  status: WrittenStatus;
  reason: string;
  startedAt: number;
  lastBeat: number;
  stoppedAt: number;
  /** The writer's heartbeat interval: the reader judges each writer by its own cadence. */
  intervalMs: number;
  processed: number;
  failed: number;
  stalled: number;
  active: number;
  /** Age of the oldest active job at `lastBeat` (0 = none active). */
  oldestActiveMs: number;
  /** JOBWATCH_STUCK_JOB_MS of the writer (0 = off). */
  stuckJobMs: number;
  /** watch() only: ms since the loop's last beat() at `lastBeat`, and its expected interval. */
  sinceTaskBeatMs: number;
  taskIntervalMs: number;
  /** Longest event-loop block (late heartbeat timer) seen in this process, and when (Redis ms). */
  longestBlockMs: number;
  jobwatchVersion: string;
  bullmqVersion: string;
}

/** The fields the writer sends; the beat script adds startedAt, lastBeat and stoppedAt from TIME. */
export type WrittenFields = Omit<InstanceFields, 'startedAt' | 'lastBeat' | 'stoppedAt'>;

const NUMBERS = [
  'pid',
  'startedAt',
  'lastBeat',
  'stoppedAt',
  'intervalMs',
  'processed',
  'failed',
  'stalled',
  'active',
  'oldestActiveMs',
  'stuckJobMs',
  'sinceTaskBeatMs',
  'taskIntervalMs',
  'longestBlockMs',
] as const;

/** Flattens fields into HSET arguments (field, value, field, value, …). */
export function encodeFields(fields: WrittenFields): string[] {
  const out: string[] = [];
  for (const [key, value] of Object.entries(fields)) out.push(key, String(value));
  return out;
}

/** Decodes a registry hash; undefined when it is not a complete jobwatch entry. */
export function decodeFields(hash: Record<string, string>): InstanceFields | undefined {
  if (!hash.id || !hash.name || !hash.lastBeat || !hash.intervalMs) return undefined;
  const status: WrittenStatus =
    hash.status === 'stopped' || hash.status === 'hung' ? hash.status : 'running';
  const decoded = {
    id: hash.id,
    kind: hash.kind === 'task' ? 'task' : 'worker',
    name: hash.name,
    queue: hash.queue ?? '',
    host: hash.host ?? '',
    status,
    reason: hash.reason ?? '',
    jobwatchVersion: hash.jobwatchVersion ?? '',
    bullmqVersion: hash.bullmqVersion ?? '',
  } as InstanceFields;
  for (const key of NUMBERS) {
    const n = Number(hash[key]);
    decoded[key] = Number.isFinite(n) ? n : 0;
  }
  return decoded.intervalMs > 0 ? decoded : undefined;
}

export interface Verdict {
  state: InstanceState;
  /** 1 for running; 0 for stopped, dead or hung. */
  alive: boolean;
  reason: string;
  /** Redis ms after which this verdict may change without a new write (Infinity = never). */
  validUntil: number;
}

const seconds = (ms: number) => `${(ms / 1000).toFixed(1)} s`;

/**
 * THE liveness rule. `now` is Redis server time in ms. The writer applies it
 * to its own state (silence 0) to decide what status to write; readers apply
 * it to what they read, with the silence since the last beat.
 */
export function assess(entry: InstanceFields, now: number): Verdict {
  if (entry.status === 'stopped') {
    return {
      state: 'stopped',
      alive: false,
      reason: entry.reason || 'stopped',
      validUntil: Infinity,
    };
  }
  const silentMs = Math.max(0, now - entry.lastBeat);
  const deadAt = entry.lastBeat + MISSED_BEATS_FOR_DEAD * entry.intervalMs;
  if (now > deadAt) {
    const missed = Math.floor(silentMs / entry.intervalMs);
    return {
      state: 'dead',
      alive: false,
      reason: `no heartbeat for ${seconds(silentMs)} (${missed} beats of ${seconds(entry.intervalMs)} missed): the process was killed, crashed, lost Redis, or its event loop is blocked`,
      validUntil: Infinity,
    };
  }
  const hung = hungReason(entry, silentMs);
  if (hung) return { state: 'hung', alive: false, reason: hung.reason, validUntil: deadAt };
  if (entry.status === 'hung') {
    return { state: 'hung', alive: false, reason: entry.reason || 'hung', validUntil: deadAt };
  }
  const hungAt = nextHungAt(entry);
  return {
    state: 'running',
    alive: true,
    reason: entry.reason,
    validUntil: Math.min(deadAt, hungAt),
  };
}

/** Why a beating instance is not making progress, extrapolated `silentMs` past its last beat. */
function hungReason(entry: InstanceFields, silentMs: number): { reason: string } | undefined {
  if (entry.kind === 'task') {
    const limit = MISSED_TASK_BEATS_FOR_HUNG * entry.taskIntervalMs;
    const since = entry.sinceTaskBeatMs + silentMs;
    if (limit > 0 && since > limit) {
      return {
        reason: `no beat() for ${seconds(since)} (expected every ${seconds(entry.taskIntervalMs)})`,
      };
    }
    return undefined;
  }
  if (entry.stuckJobMs > 0 && entry.oldestActiveMs > 0) {
    const age = entry.oldestActiveMs + silentMs;
    if (age > entry.stuckJobMs) {
      return {
        reason: `a job has been active for ${seconds(age)} (JOBWATCH_STUCK_JOB_MS=${entry.stuckJobMs})`,
      };
    }
  }
  return undefined;
}

/** Redis ms at which a running instance turns hung if nothing changes (Infinity = never). */
function nextHungAt(entry: InstanceFields): number {
  if (entry.kind === 'task') {
    const limit = MISSED_TASK_BEATS_FOR_HUNG * entry.taskIntervalMs;
    return limit > 0 ? entry.lastBeat + limit - entry.sinceTaskBeatMs : Infinity;
  }
  if (entry.stuckJobMs > 0 && entry.oldestActiveMs > 0) {
    return entry.lastBeat + entry.stuckJobMs - entry.oldestActiveMs;
  }
  return Infinity;
}
