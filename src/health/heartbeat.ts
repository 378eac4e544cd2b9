// The heartbeat writer: every JOBWATCH_HEARTBEAT_INTERVAL_MS, one write per
// instance into its registry (on Redis one script call, i.e. one round trip,
// through the worker's own non-blocking BullMQ client: BullMQ fetches jobs on a
// separate blocking connection, so a waiting BZPOPMIN never delays a beat; on
// PostgreSQL one upsert through BullMQ's pool).
//
// At most one write per instance is in flight: while the store is away the
// one pending beat waits and lands when it returns, with the store's time of
// that moment, instead of piling up.

import type { Registry } from '../backends/backend.js';
import type { Backends } from '../backends/router.js';
import type { WorkerLike } from '../lifecycle.js';
import { describeError, guard, warnRateLimited } from '../log.js';
import { withTimeout } from '../timeout.js';
import { StoreFailures } from './failures.js';
import {
  type Instance,
  type InstanceSettings,
  type TaskInstance,
  WorkerInstance,
} from './instances.js';

export interface WriterSettings extends InstanceSettings {
  retentionMs: number;
  /** Bound on how long a stop waits for Redis before giving up. */
  timeoutMs: number;
}

/** How long a "the event loop was blocked" note stays on an instance's entry. */
const BLOCK_NOTE_MIN_MS = 60_000;

export class HeartbeatWriter {
  private readonly workers = new Map<WorkerLike, WorkerInstance>();
  private readonly instances = new Set<Instance>();
  private readonly inFlight = new Map<Instance, Promise<void>>();
  private timer: NodeJS.Timeout | undefined;
  private nextTickAt = 0;
  private blockNoteUntil = 0;
  /** Refused writes by reason (bullmq.worker.heartbeat.errors) and whether beats land now. */
  readonly errors = new StoreFailures();

  constructor(
    readonly settings: WriterSettings,
    private readonly backends: Backends,
  ) {}

  start(): void {
    if (this.timer) return;
    this.nextTickAt = performance.now() + this.settings.intervalMs;
    this.timer = setInterval(() => guard('heartbeat', () => this.tick()), this.settings.intervalMs);
    this.timer.unref();
  }

  addWorker(worker: WorkerLike): WorkerInstance {
    let instance = this.workers.get(worker);
    if (!instance) {
      instance = new WorkerInstance(worker);
      this.workers.set(worker, instance);
      this.instances.add(instance);
      this.backends.adopt(worker);
      // 'closing' comes at the start of close(), while the worker's own client
      // is still open: the stopped status goes out ahead of BullMQ's QUIT, so
      // it lands even when the app exits right after `await worker.close()`.
      const created = instance;
      worker.on('closing', () => void this.stop(created, 'stopped cleanly (worker.close())'));
      this.beat(instance);
    }
    return instance;
  }

  workerOf(worker: WorkerLike): WorkerInstance | undefined {
    return this.workers.get(worker);
  }

  addTask(task: TaskInstance): void {
    this.instances.add(task);
    this.beat(task);
  }

  /** Marks an instance stopped at once (locally), then writes status 0 for the registry. */
  async stop(instance: Instance, reason: string): Promise<void> {
    if (instance.stopped) return;
    instance.stop(reason);
    const pending = this.inFlight.get(instance);
    // A write that loses the race with the connection's close is retried once,
    // through another client (targetOf picks one when this one is gone).
    const finalWrite = (pending ?? Promise.resolve())
      .catch(() => undefined)
      .then(() => this.write(instance))
      .catch(() => this.write(instance));
    try {
      await withTimeout(finalWrite, this.settings.timeoutMs, 'writing the stopped status');
    } catch (err) {
      warnRateLimited(
        'heartbeat-stop',
        `could not mark ${instance.name} stopped in its registry: ${describeError(err)}`,
      );
    }
  }

  stopAll(reason: string): Promise<void> {
    const running = [...this.instances].filter((i) => !i.stopped);
    return Promise.all(running.map((i) => this.stop(i, reason))).then(() => undefined);
  }

  /**
   * This process's own instances whose registry is known (a scrape never sees
   * one without its scope): running ones, and stopped ones within retention.
   */
  local(): Instance[] {
    const now = performance.now();
    for (const instance of this.instances) {
      if (instance.stopped && now - instance.stoppedAtLocal > this.settings.retentionMs) {
        this.instances.delete(instance);
        if (instance instanceof WorkerInstance) this.workers.delete(instance.worker);
      }
    }
    return [...this.instances].filter((i) => i.registry !== undefined);
  }

  close(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }

  private tick(): void {
    const now = performance.now();
    // A timer that fires a whole interval late means the event loop was blocked
    // (a busy job, a sync call, a frozen process): say so on the next beats.
    const lateMs = now - this.nextTickAt;
    this.nextTickAt = now + this.settings.intervalMs;
    if (lateMs > this.settings.intervalMs) {
      this.blockNoteUntil = now + Math.max(BLOCK_NOTE_MIN_MS, 10 * this.settings.intervalMs);
      for (const instance of this.instances) {
        instance.lastBlockMs = Math.round(lateMs);
        instance.blockNote = `recovered: the event loop was blocked for ${(lateMs / 1000).toFixed(1)} s (heartbeats were late)`;
      }
    } else if (now > this.blockNoteUntil) {
      for (const instance of this.instances) instance.blockNote = '';
    }
    for (const instance of this.instances) {
      if (!instance.stopped) this.beat(instance);
    }
  }

  private beat(instance: Instance): void {
    if (this.inFlight.has(instance)) return;
    const write = this.write(instance)
      .catch(() => undefined) // counted and said by write()
      .finally(() => this.inFlight.delete(instance));
    this.inFlight.set(instance, write);
  }

  private async write(instance: Instance): Promise<void> {
    const registry = await this.registryOf(instance);
    // Known from now on: the instance is shown (self-report) only once its scope is.
    instance.registry ??= registry?.scope ?? '';
    if (!registry) return;
    if (registry.unavailable !== undefined) {
      // every beat that cannot land is counted, so the alert sees the worker stay invisible
      this.errors.count('noperm');
      return;
    }
    // A closing worker's final "stopped" must land even when its own connection is gone.
    const handle = registry.handle(instance.stopped);
    if (!handle) return;
    try {
      // Bounded by the interval: a write that hangs (a half-open socket) must not hold
      // back the next beats, which go through another connection (backends/redis/server.ts).
      const at = await withTimeout(
        handle.store.writeBeat(
          instance.fields(this.settings),
          this.settings.retentionMs,
          instance.stopped,
        ),
        this.settings.intervalMs,
        'the heartbeat write',
      );
      this.errors.succeeded();
      instance.startedWrittenAt ||= at;
      instance.lastWrittenAt = at;
    } catch (err) {
      this.errors.record(registry, err, `heartbeat of ${instance.name}`);
      throw err;
    } finally {
      handle.release?.();
    }
  }

  /** A worker's registry is its BullMQ connection's; a watch()ed loop's the process's default. */
  private registryOf(instance: Instance): Promise<Registry | undefined> | Registry | undefined {
    if (instance instanceof WorkerInstance) return this.backends.registryOf(instance.worker);
    return this.backends.taskRegistry();
  }
}
