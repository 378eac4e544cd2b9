// What a Worker's fetch loop is doing, so that a wedged worker (its own
// connections hung: a half-open socket after a failover, a client that ended)
// reads as hung, not running. The instrumentation records BullMQ's loop
// calls here (src/instrumentation/fetch-loop.ts); worker health reads the
// stall at each beat (src/health/instances.ts) and writes it into the
// registry, where the one liveness rule judges it (src/registry/liveness.ts).
// No store call is added: only times kept in memory.
//
// A worker's loop is stuck when (whichever is furthest past its limit):
//   1. calls of one kind have been in flight, none answering, for longer than
//      one can legitimately take: waitForJob (BZPOPMIN) its block plus
//      BullMQ's own watchdog and reconnect, delay(ms) its ms, and a single
//      Redis or SQL command (moveToActive, Job.moveToCompleted / moveToFailed)
//      JOBWATCH_HUNG_COMMAND_MS;
//   2. a slot is free, the worker is neither rate limited nor in BullMQ's
//      retry delay, and no fetch round trip has succeeded (a fetch returned,
//      a job started or finished) for as long as one waitForJob may take;
//   3. fetching keeps failing: two failed attempts or more in a row, for 10 s.
// A paused or closing worker is never stuck; an idle one completes a round
// trip every drainDelay; a worker whose slots are all busy fetches nothing
// and only rule 1 applies (its finishing calls must return).

const OPS = ['waitForJob', 'moveToActive', 'delay', 'moveToCompleted', 'moveToFailed'] as const;

export type LoopOp = (typeof OPS)[number];

/**
 * The calls of one kind in flight, as counts and times only (no record per
 * call: BullMQ makes one per job): they are stuck when none has answered
 * since the first of them began, or since the last answer, for longer than one
 * may take. A connection that answers some calls answers all of them.
 */
interface OpSlot {
  inFlight: number;
  /** Date.now() when the calls in flight now began to be in flight (from zero). */
  since: number;
  /** Date.now() of the last answer. */
  lastDone: number;
  /** How long one may take by design (a block, a delay), before the grace; 0 for a single command. */
  expectedMs: number;
}

/** What the rule reads of a Worker beside its calls. */
export interface LoopWorker {
  closing?: unknown;
  isPaused(): boolean;
  isRateLimited?(): boolean;
  limitUntil?: number;
  concurrency?: number;
  _concurrency?: number;
  opts: { concurrency?: number };
}

export interface LoopSettings {
  /** JOBWATCH_HUNG_COMMAND_MS: the longest one command may take (0: the rule is off). */
  commandMs: number;
}

/** How far the loop is from (or past) being stuck: hung once stuckMs > limitMs. */
export interface LoopStall {
  stuckMs: number;
  limitMs: number;
  what: string;
}

/** Slack on top of what a block or a delay takes by design (timers, reconnects). */
const GRACE_MS = 5000;
/** Rule 3: how long fetches must keep failing. */
const FAILING_MS = 10_000;

const WHAT: Record<LoopOp, string> = {
  waitForJob: 'waiting for a job (BZPOPMIN on the blocking connection)',
  moveToActive: 'fetching the next job (moveToActive)',
  delay: 'a BullMQ delay',
  moveToCompleted: 'moving a finished job to completed',
  moveToFailed: 'moving a failed job to failed',
};

export class LoopActivity {
  private readonly slots = Object.fromEntries(
    OPS.map((op) => [op, { inFlight: 0, since: 0, lastDone: 0, expectedMs: 0 }]),
  ) as Record<LoopOp, OpSlot>;
  /** Date.now() of the last successful round trip of the fetch path. */
  private lastProgressAt = Date.now();
  /** Date.now() when an exclusion (paused, busy, rate limited) last held: no fetch was due before. */
  private excludedAt = 0;
  private failures = 0;
  private failingSince = 0;
  private lastFailure = '';
  /** What one waitForJob may take by design, from the last call (its block and BullMQ's watchdog). */
  private waitMs = 9000;

  begin(op: LoopOp, expectedMs: number): void {
    const slot = this.slots[op];
    if (slot.inFlight++ === 0) slot.since = Date.now();
    slot.expectedMs = expectedMs;
    if (op === 'waitForJob') this.waitMs = expectedMs;
  }

  /** A call returned; `ok`: it made a round trip (a finite BZPOPMIN answer, a fetch, a move). */
  end(op: LoopOp, ok: boolean, failure?: string): void {
    const slot = this.slots[op];
    if (slot.inFlight > 0) slot.inFlight--;
    const now = Date.now();
    slot.lastDone = now;
    if (ok) {
      this.lastProgressAt = now;
      // A BZPOPMIN that answers proves only the blocking connection: the
      // main one may still be failing every fetch.
      if (op !== 'waitForJob') this.failures = 0;
    } else if (failure !== undefined) {
      if (this.failures++ === 0) this.failingSince = now;
      this.lastFailure = `${op}: ${failure}`;
    }
  }

  /** A job started: the loop fetched it. */
  jobStarted(): void {
    this.lastProgressAt = Date.now();
    this.failures = 0;
  }

  /** The stall nearest to (or furthest past) its limit, or undefined when none can be. */
  stall(now: number, worker: LoopWorker, jobsInFlight: number, settings: LoopSettings) {
    if (settings.commandMs <= 0) return undefined;
    if (worker.closing || worker.isPaused()) {
      this.excludedAt = now;
      return undefined;
    }
    let worst: LoopStall | undefined;
    const consider = (stuckMs: number, limitMs: number, what: string) => {
      if (!worst || stuckMs - limitMs > worst.stuckMs - worst.limitMs)
        worst = { stuckMs, limitMs, what };
    };
    for (const op of OPS) {
      const slot = this.slots[op];
      if (slot.inFlight === 0) continue;
      const limit = slot.expectedMs > 0 ? slot.expectedMs + GRACE_MS : settings.commandMs;
      consider(now - Math.max(slot.since, slot.lastDone), limit, `BullMQ has been ${WHAT[op]} for`);
    }
    const retrying = this.slots.delay.inFlight > 0 && this.failures > 0;
    if (this.failures >= 2) {
      consider(
        now - this.failingSince,
        FAILING_MS,
        `fetching jobs keeps failing (${this.failures} attempts in a row; last: ${this.lastFailure}) for`,
      );
    }
    const concurrency = worker._concurrency ?? worker.concurrency ?? worker.opts.concurrency ?? 1;
    const free = concurrency - jobsInFlight;
    if (free <= 0 || retrying || isRateLimited(worker)) this.excludedAt = now;
    else {
      consider(
        now - Math.max(this.lastProgressAt, this.excludedAt),
        this.waitMs + GRACE_MS,
        `no job fetched and no fetch answered, with ${free} of ${concurrency} slots free, for`,
      );
    }
    return worst;
  }
}

function isRateLimited(worker: LoopWorker): boolean {
  // 5.53.3 on: an absolute limitUntil behind isRateLimited(); before, a TTL in ms.
  if (typeof worker.isRateLimited === 'function') return worker.isRateLimited();
  return (worker.limitUntil ?? 0) > 0;
}

const ACTIVITY = Symbol('jobwatch.loopActivity');

/** The activity record of a Worker (made on first use, kept on the Worker). */
export function loopActivityOf(worker: object): LoopActivity {
  const holder = worker as { [ACTIVITY]?: LoopActivity };
  holder[ACTIVITY] ??= new LoopActivity();
  return holder[ACTIVITY];
}
