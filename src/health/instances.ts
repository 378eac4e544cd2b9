// The local state behind one registry entry: a BullMQ Worker object or a
// watch()ed loop. Per-job bookkeeping is in memory only (no store call per
// job); the heartbeat writer turns it into registry fields once per beat.

import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import { bullmqVersion } from '../bullmq-objects.js';
import type { JobLike, WorkerLike } from '../lifecycle.js';
import { loopActivityOf } from '../loop-activity.js';
import type { InstanceFields, WrittenFields, WrittenStatus } from '../registry/entry.js';
import { assess } from '../registry/liveness.js';
import { VERSION } from '../version.js';

const HOST = hostname();

/** Settings every instance reports with its fields. */
export interface InstanceSettings {
  intervalMs: number;
  stuckJobMs: number;
  /** JOBWATCH_HUNG_COMMAND_MS: the longest one command of BullMQ's fetch loop may take (0: off). */
  hungCommandMs: number;
}

export abstract class Instance {
  stopped = false;
  stopReason = '';
  /** Store time of the last successful write (0 = never written). */
  lastWrittenAt = 0;
  startedWrittenAt = 0;
  /** Local monotonic time at which this instance stopped (for local retention). */
  stoppedAtLocal = 0;
  /** The scope of the registry it beats into ('' when it has none), once the writer knows it. */
  registry: string | undefined;
  /** Set by the writer when the event loop was blocked recently. */
  blockNote = '';
  lastBlockMs = 0;

  abstract readonly id: string;
  abstract readonly kind: 'worker' | 'task';
  abstract readonly name: string;
  abstract readonly queue: string;

  protected abstract progress(settings: InstanceSettings): Partial<WrittenFields>;

  /** What a live instance says it is doing (a worker may be paused on purpose). */
  protected liveStatus(): WrittenStatus {
    return 'running';
  }

  stop(reason: string): void {
    if (this.stopped) return;
    this.stopped = true;
    this.stopReason = reason;
    this.stoppedAtLocal = performance.now();
  }

  /** The fields to write now, with the status decided by the shared liveness rule. */
  fields(settings: InstanceSettings): WrittenFields {
    const base: WrittenFields = {
      id: this.id,
      kind: this.kind,
      name: this.name,
      queue: this.queue,
      host: HOST,
      pid: process.pid,
      status: this.stopped ? 'stopped' : this.liveStatus(),
      reason: this.stopped ? this.stopReason : this.blockNote,
      intervalMs: settings.intervalMs,
      stuckJobMs: settings.stuckJobMs,
      processed: 0,
      failed: 0,
      stalled: 0,
      active: 0,
      oldestActiveMs: 0,
      sinceTaskBeatMs: 0,
      taskIntervalMs: 0,
      loopStuckMs: 0,
      loopLimitMs: 0,
      loopWhat: '',
      longestBlockMs: this.lastBlockMs,
      jobwatchVersion: VERSION,
      bullmqVersion: '',
      ...this.progress(settings),
    };
    if (!this.stopped) {
      // Judged as a reader would judge it right after this beat (no silence).
      const verdict = assess({ ...base, startedAt: 0, lastBeat: 0, stoppedAt: 0 }, 0);
      if (verdict.state === 'hung') {
        base.status = 'hung' satisfies WrittenStatus;
        base.reason = verdict.reason;
      }
    }
    return base;
  }

  /** This process's own view of the instance, as a registry reader would decode it. */
  snapshot(settings: InstanceSettings): InstanceFields {
    return {
      ...this.fields(settings),
      startedAt: this.startedWrittenAt,
      lastBeat: this.lastWrittenAt,
      stoppedAt: 0,
    };
  }
}

export class WorkerInstance extends Instance {
  readonly kind = 'worker';
  readonly id: string;
  readonly name: string;
  readonly queue: string;
  readonly bullmqVersion: string;
  processed = 0;
  failed = 0;
  stalled = 0;
  /** Active attempts and their local start (ms); keyed by the Job object BullMQ passes around. */
  private readonly active = new Map<JobLike, number>();

  constructor(readonly worker: WorkerLike) {
    super();
    this.id = worker.id;
    this.queue = worker.name;
    this.name = worker.opts.name || worker.name;
    this.bullmqVersion = bullmqVersion(worker);
  }

  attemptStarted(job: JobLike, startedAt: number): void {
    this.active.set(job, startedAt);
    loopActivityOf(this.worker).jobStarted();
  }

  attemptEnded(job: JobLike, failed: boolean): void {
    if (!this.active.delete(job)) return;
    if (failed) this.failed++;
    else this.processed++;
  }

  override stop(reason: string): void {
    super.stop(reason);
    this.active.clear();
  }

  protected override liveStatus(): WrittenStatus {
    return this.worker.isPaused() ? 'paused' : 'running';
  }

  protected progress(settings: InstanceSettings): Partial<WrittenFields> {
    // Job starts are Date.now() of this same process, so the difference is a
    // true duration whatever this host's clock says.
    const now = Date.now();
    let oldest = 0;
    for (const startedAt of this.active.values()) oldest = Math.max(oldest, now - startedAt);
    const stall = this.stopped
      ? undefined
      : loopActivityOf(this.worker).stall(now, this.worker, this.active.size, {
          commandMs: settings.hungCommandMs,
        });
    return {
      processed: this.processed,
      failed: this.failed,
      stalled: this.stalled,
      active: this.active.size,
      oldestActiveMs: oldest,
      bullmqVersion: this.bullmqVersion,
      ...(stall && {
        loopStuckMs: stall.stuckMs,
        loopLimitMs: stall.limitMs,
        loopWhat: stall.what,
      }),
    };
  }
}

export class TaskInstance extends Instance {
  readonly kind = 'task';
  readonly id = `task-${randomUUID()}`;
  readonly queue = '';
  private lastBeatLocal = performance.now();

  constructor(
    readonly name: string,
    readonly taskIntervalMs: number,
  ) {
    super();
  }

  beat(): void {
    this.lastBeatLocal = performance.now();
  }

  protected progress(): Partial<WrittenFields> {
    return {
      sinceTaskBeatMs: Math.round(performance.now() - this.lastBeatLocal),
      taskIntervalMs: this.taskIntervalMs,
    };
  }
}
