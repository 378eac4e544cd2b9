// The neutral model of the worker registry: one entry per instance, whatever
// the store (Redis, PostgreSQL). An instance is one BullMQ Worker object
// (id = the Worker's own UUID) or one watch()ed background loop (id = `task-`
// + a UUID). Every time in an entry is the store's own clock, never a host's.

/**
 * What the writer says about itself: 'paused' = alive, not taking jobs on
 * purpose (worker.pause()); 'hung' = alive but not making progress.
 */
export type WrittenStatus = 'running' | 'paused' | 'stopped' | 'hung';
/** What a reader concludes; 'dead' = its beats stopped (killed, crashed, or frozen). */
export type InstanceState = WrittenStatus | 'dead';

/**
 * Every state, from the best to the worst for a worker as a whole: a worker is
 * in the best state any of its instances is in (running if one runs).
 */
export const INSTANCE_STATES: readonly InstanceState[] = [
  'running',
  'paused',
  'hung',
  'dead',
  'stopped',
];

const WRITTEN: ReadonlySet<string> = new Set(['paused', 'stopped', 'hung']);

/** One registry entry, decoded. Times are the store's ms; ages and limits are ms. */
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
  /**
   * Workers: how long BullMQ's fetch loop has been stuck at `lastBeat`, against
   * what limit, and on what (0, 0, '' while it makes progress or cannot be stuck).
   */
  loopStuckMs: number;
  loopLimitMs: number;
  loopWhat: string;
  /** Longest event-loop block (late heartbeat timer) seen in this process, and when (store ms). */
  longestBlockMs: number;
  jobwatchVersion: string;
  bullmqVersion: string;
}

/** The fields the writer sends; the store adds startedAt, lastBeat and stoppedAt from its clock. */
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
  'loopStuckMs',
  'loopLimitMs',
  'longestBlockMs',
] as const;

/** Flattens fields into (field, value, field, value, …) strings. */
export function encodeFields(fields: WrittenFields): string[] {
  const out: string[] = [];
  for (const [key, value] of Object.entries(fields)) out.push(key, String(value));
  return out;
}

/** Decodes an entry's fields as a store keeps them (strings); undefined when it is not a complete entry. */
export function decodeFields(hash: Record<string, string>): InstanceFields | undefined {
  if (!hash.id || !hash.name || !hash.lastBeat || !hash.intervalMs) return undefined;
  const status = (WRITTEN.has(hash.status ?? '') ? hash.status : 'running') as WrittenStatus;
  const decoded = {
    id: hash.id,
    kind: hash.kind === 'task' ? 'task' : 'worker',
    name: hash.name,
    queue: hash.queue ?? '',
    host: hash.host ?? '',
    status,
    reason: hash.reason ?? '',
    loopWhat: hash.loopWhat ?? '',
    jobwatchVersion: hash.jobwatchVersion ?? '',
    bullmqVersion: hash.bullmqVersion ?? '',
  } as InstanceFields;
  for (const key of NUMBERS) {
    const n = Number(hash[key]);
    decoded[key] = Number.isFinite(n) ? n : 0;
  }
  return decoded.intervalMs > 0 ? decoded : undefined;
}
