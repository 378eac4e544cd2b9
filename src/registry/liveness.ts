// THE liveness rule: the heartbeat writer applies it to its own state (silence
// 0) to decide what status to write; every reader (the fleet view, the health
// endpoints, the CLI, and so the gauges and alerts) applies it to what it
// reads, with the silence since the last beat. "Is this instance alive" is
// decided here and nowhere else, for every store.

import type { InstanceFields, InstanceState } from './entry.js';

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

export interface Verdict {
  state: InstanceState;
  /** 1 for running and paused; 0 for stopped, dead or hung. */
  alive: boolean;
  reason: string;
  /** Store ms after which this verdict may change without a new write (Infinity = never). */
  validUntil: number;
}

const seconds = (ms: number) => `${(ms / 1000).toFixed(1)} s`;

/** The verdict on `entry` at `now` (the store's ms). */
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
      reason: `no heartbeat for ${seconds(silentMs)} (${missed} beats of ${seconds(entry.intervalMs)} missed): the process was killed, crashed, lost its registry, or its event loop is blocked`,
      validUntil: Infinity,
    };
  }
  const hung = hungReason(entry, silentMs);
  if (hung) return { state: 'hung', alive: false, reason: hung, validUntil: deadAt };
  if (entry.status === 'hung') {
    return { state: 'hung', alive: false, reason: entry.reason || 'hung', validUntil: deadAt };
  }
  return {
    state: entry.status === 'paused' ? 'paused' : 'running',
    alive: true,
    reason: entry.reason,
    validUntil: Math.min(deadAt, nextHungAt(entry)),
  };
}

/** Why a beating instance is not making progress, extrapolated `silentMs` past its last beat. */
function hungReason(entry: InstanceFields, silentMs: number): string | undefined {
  if (entry.kind === 'task') {
    const limit = MISSED_TASK_BEATS_FOR_HUNG * entry.taskIntervalMs;
    const since = entry.sinceTaskBeatMs + silentMs;
    if (limit > 0 && since > limit) {
      return `no beat() for ${seconds(since)} (expected every ${seconds(entry.taskIntervalMs)})`;
    }
    return undefined;
  }
  if (entry.loopLimitMs > 0) {
    const stuck = entry.loopStuckMs + silentMs;
    if (stuck > entry.loopLimitMs) {
      return `wedged: ${entry.loopWhat} ${seconds(stuck)} (at most ${seconds(entry.loopLimitMs)} expected); jobs wait while it is`;
    }
  }
  if (entry.stuckJobMs > 0 && entry.oldestActiveMs > 0) {
    const age = entry.oldestActiveMs + silentMs;
    if (age > entry.stuckJobMs) {
      return `a job has been active for ${seconds(age)} (JOBWATCH_STUCK_JOB_MS=${entry.stuckJobMs})`;
    }
  }
  return undefined;
}

/** Store ms at which a running instance turns hung if nothing changes (Infinity = never). */
function nextHungAt(entry: InstanceFields): number {
  if (entry.kind === 'task') {
    const limit = MISSED_TASK_BEATS_FOR_HUNG * entry.taskIntervalMs;
    return limit > 0 ? entry.lastBeat + limit - entry.sinceTaskBeatMs : Infinity;
  }
  const loop =
    entry.loopLimitMs > 0 ? entry.lastBeat + entry.loopLimitMs - entry.loopStuckMs : Infinity;
  if (entry.stuckJobMs > 0 && entry.oldestActiveMs > 0) {
    return Math.min(loop, entry.lastBeat + entry.stuckJobMs - entry.oldestActiveMs);
  }
  return loop;
}
