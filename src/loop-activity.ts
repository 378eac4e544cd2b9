// What a Worker's fetch loop is doing, so that a wedged worker (its own
// connections hung: a half-open socket after a failover, a client that ended)
// reads as hung, not running. The instrumentation records BullMQ's loop
// calls here (src/instrumentation/fetch-loop.ts); worker health reads the
// stall at each beat (src/health/instances.ts) and writes it into the
// registry, where the one liveness rule judges it (src/registry/liveness.ts).
// No store call is added: only times kept in memory.
//
// A worker's loop is stuck when (whichever is furthest past its limit):
//   1. a call it awaits has been in flight longer than it can legitimately
//      take: waitForJob (BZPOPMIN) its block plus BullMQ's own watchdog and
//      reconnect, delay(ms) its ms, and a single Redis or SQL command
//      (moveToActive, Job.moveToCompleted / moveToFailed) JOBWATCH_HUNG_COMMAND_MS;
//   2. a slot is free, the worker is neither rate limited nor in BullMQ's
//      retry delay, and no fetch round trip has succeeded (a fetch returned,
//      a job started or finished) for as long as one waitForJob may take;
//   3. fetching keeps failing: two failed attempts or more in a row, for 10 s.
// A paused or closing worker is never stuck; an idle one completes a round
// trip every drainDelay; a worker whose slots are all busy fetches nothing
// and only rule 1 applies (its finishing calls must return).

export type LoopOp = 'waitForJob' | 'moveToActive' | 'delay' | 'moveToCompleted' | 'moveToFailed';

export interface LoopCall {
  readonly op: LoopOp;
  /** Date.now() when the call began. */
  readonly since: number;
  /** How long it may take by design (a block, a delay), before the grace; 0 for a single command. */
  readonly expectedMs: number;
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
  private readonly calls = new Set<LoopCall>();
  /** Date.now() of the last successful round trip of the fetch path. */
  private lastProgressAt = Date.now();
  /** Date.now() when an exclusion (paused, busy, rate limited) last held: no fetch was due before. */
  private excludedAt = 0;
  private failures = 0;
  private failingSince = 0;
  private lastFailure = '';
  /** What one waitForJob may take by design, from the last call (its block and BullMQ's watchdog). */
  private waitMs = 9000;

  begin(op: LoopOp, expectedMs: number): LoopCall {
    const call = { op, since: Date.now(), expectedMs };
    if (op === 'waitForJob') this.waitMs = expectedMs;
    this.calls.add(call);
    return call;
  }

  /** A call returned; `ok`: it made a round trip (a finite BZPOPMIN answer, a fetch, a move). */
  end(call: LoopCall, ok: boolean, failure?: string): void {
    this.calls.delete(call);
    if (ok) {
      this.lastProgressAt = Date.now();
      // A BZPOPMIN that answers proves only the blocking connection: the
      // main one may still be failing every fetch.
      if (call.op !== 'waitForJob') this.failures = 0;
    } else if (failure !== undefined) {
      if (this.failures++ === 0) this.failingSince = Date.now();
      this.lastFailure = `${call.op}: ${failure}`;
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
    let retrying = false;
    for (const call of this.calls) {
      const limit = call.expectedMs > 0 ? call.expectedMs + GRACE_MS : settings.commandMs;
      consider(now - call.since, limit, `BullMQ has been ${WHAT[call.op]} for`);
      retrying ||= call.op === 'delay' && this.failures > 0;
    }
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
