// The calls of a Worker's fetch loop, recorded for the hang rule
// (src/loop-activity.ts): when each began, how long it may take by design,
// and whether it made a round trip. Every argument is passed through and the
// original's promise is returned untouched; the record is two counts and one
// `then` per call, never a store command.
//
// Per BullMQ version (read from the builds of 5.0.0 to 6.7.6; all are
// prototype methods that BullMQ calls through `this` in every version):
//   waitForJob(bclient, blockUntil) on 5.x, waitForJob(blockUntil) on 6.x
//   moveToActive, delay(ms), Job.moveToCompleted / moveToFailed
// A BZPOPMIN blocks for drainDelay (capped at 10 s before 5.7), or until the
// next delayed job (at most maximumBlockTimeout); BullMQ's own watchdog ends
// it 1 s late and ioredis reconnects in about 3 s, and from 5.7.14 to 5.81.4
// and 6.0.0 to 6.0.6 ioredis re-sends it once more after that watchdog.

import { bullmqVersion } from '../bullmq-objects.js';
import type { QueueUserLike } from '../lifecycle.js';
import { ignoreInternalError } from '../log.js';
import { type LoopOp, loopActivityOf } from '../loop-activity.js';

type Method = (this: any, ...args: any[]) => any;

interface LoopWorkerLike extends QueueUserLike {
  closing?: unknown;
  isPaused(): boolean;
  getBlockTimeout?: unknown;
  maximumBlockTimeout?: number;
  opts: QueueUserLike['opts'] & { drainDelay?: number };
}

/** Worker.waitForJob: expected to take its block, BullMQ's watchdog and a reconnect. */
export function wrapWaitForJob(): (original: Method) => Method {
  return track(
    'waitForJob',
    (worker) => worker,
    waitMs,
    (worker, value) =>
      typeof value === 'number' && Number.isFinite(value)
        ? 'ok'
        : // Infinity is its error path, unless the loop is stopping on purpose.
          worker.closing || worker.isPaused()
          ? 'none'
          : 'no answer from the blocking connection',
  );
}

export function wrapMoveToActive(): (original: Method) => Method {
  return track(
    'moveToActive',
    (worker) => worker,
    () => 0,
    () => 'ok',
  );
}

export function wrapDelay(): (original: Method) => Method {
  return track(
    'delay',
    (worker) => worker,
    (_worker, args) => Number(args[0]) || 0,
    () => 'none',
  );
}

/** Job.moveToCompleted / moveToFailed of a Worker's job (a Queue's job is not the loop's). */
export function wrapJobMove(op: 'moveToCompleted' | 'moveToFailed'): (original: Method) => Method {
  return track(
    op,
    (job) => workerOfJob(job),
    () => 0,
    () => 'ok',
  );
}

function workerOfJob(job: { queue?: unknown }): LoopWorkerLike | undefined {
  const owner = job.queue as Partial<LoopWorkerLike> & { processJob?: unknown };
  return typeof owner?.processJob === 'function' ? (owner as LoopWorkerLike) : undefined;
}

/** 'ok': a round trip; 'none': neither progress nor failure; anything else: a failure, said so. */
type Outcome = 'ok' | 'none' | string;

/** A Worker's handlers for one kind of call: its start, and its promise's two outcomes. */
interface Settlers {
  begin(args: IArguments): void;
  ok(value: unknown): void;
  fail(err: unknown): void;
}

/**
 * Wraps one of the loop's calls. Per call: a WeakMap lookup, two counts and a
 * `then` on the promise BullMQ returns, with handlers made once per Worker:
 * these run once per job.
 */
function track(
  op: LoopOp,
  workerOf: (self: any) => LoopWorkerLike | undefined,
  expectedMs: (worker: LoopWorkerLike, args: IArguments) => number,
  outcomeOf: (worker: LoopWorkerLike, value: unknown) => Outcome,
): (original: Method) => Method {
  const settlersOf = new WeakMap<LoopWorkerLike, Settlers>();
  const settlers = (worker: LoopWorkerLike): Settlers => {
    let found = settlersOf.get(worker);
    if (found === undefined) {
      const activity = loopActivityOf(worker);
      const done = (outcome: Outcome) =>
        activity.end(
          op,
          outcome === 'ok',
          outcome === 'ok' || outcome === 'none' ? undefined : outcome,
        );
      found = {
        begin: (args) => activity.begin(op, expectedMs(worker, args)),
        ok: (value) => done(outcomeOf(worker, value)),
        fail: (err) => done(err instanceof Error ? err.message : String(err)),
      };
      settlersOf.set(worker, found);
    }
    return found;
  };
  return (original) =>
    function tracked(this: unknown) {
      let settle: Settlers | undefined;
      try {
        const worker = workerOf(this);
        if (worker) {
          settle = settlers(worker);
          // biome-ignore lint/complexity/noArguments: every argument goes through as it came
          settle.begin(arguments);
        }
      } catch (err) {
        ignoreInternalError('fetch loop', err);
      }
      // biome-ignore lint/complexity/noArguments: as above
      const result = original.apply(this, arguments as unknown as unknown[]);
      if (settle) {
        if (result instanceof Promise) result.then(settle.ok, settle.fail);
        else settle.ok(result);
      }
      return result;
    };
}

/** What one waitForJob may take by design (see the header). */
function waitMs(worker: LoopWorkerLike, args: IArguments): number {
  const blockUntil = Number(typeof args[0] === 'object' && args[0] !== null ? args[1] : args[0]);
  const maxBlock = typeof worker.maximumBlockTimeout === 'number' ? worker.maximumBlockTimeout : 10;
  const drainDelay = worker.opts.drainDelay ?? 5;
  const block =
    blockUntil > 0
      ? Math.min(Math.max(blockUntil - Date.now(), 0) / 1000, maxBlock)
      : typeof worker.getBlockTimeout === 'function'
        ? drainDelay
        : Math.min(drainDelay, 10);
  const resent = resendsBlock(bullmqVersion(worker)) ? block : 0;
  return (block + 1 + 3 + resent) * 1000;
}

/** 5.7.14 to 5.81.4 and 6.0.0 to 6.0.6: BullMQ's watchdog disconnects and ioredis re-sends the BZPOPMIN. */
function resendsBlock(version: string): boolean {
  const [major = 0, minor = 0, patch = 0] = version.split('.').map(Number);
  const n = major * 1e6 + minor * 1e3 + patch;
  return (n >= 5_007_014 && n < 5_081_005) || (n >= 6_000_000 && n < 6_000_007);
}
