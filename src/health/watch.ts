// watch(): worker.status for background loops that are not BullMQ workers
// (cleanup timers, pollers). The loop calls beat() each time it makes
// progress; after 3 of its intervals without one it reports 0 ("hung"), and
// if its process dies the registry reports it dead like any worker.
//
// The app calls watch() from its own import of jobwatch, the preload started
// the runtime from another (possibly another copy of jobwatch): they meet in
// one process-wide slot, where the runtime's worker health registers itself
// as the tasks' host, and where tasks made before it started wait for it.

import { DEFAULT_CONFIG } from '../config.js';
import { TaskInstance } from './instances.js';

export interface WatchOptions {
  /** How often the loop is expected to call beat(); default JOBWATCH_HEARTBEAT_INTERVAL_MS. */
  intervalMs?: number;
}

export interface WatchedTask {
  /** The loop made progress. */
  beat(): void;
  /** The loop ended on purpose: status 0 at once, kept in the registry for the retention. */
  stop(): Promise<void>;
  /** Wraps one iteration: beats when it resolves; a throwing iteration does not beat. */
  wrap<A extends unknown[], R>(fn: (...args: A) => R | Promise<R>): (...args: A) => Promise<R>;
}

/** What watch() hands its tasks to: the runtime's worker health (health/index.ts). */
export interface TaskHost {
  readonly defaultIntervalMs: number;
  addTask(task: TaskInstance): void;
  stopTask(task: TaskInstance, reason: string): Promise<void>;
}

interface Slot {
  host: TaskHost | undefined;
  pending: TaskInstance[];
}

const SLOT = Symbol.for('jobwatch.tasks');

function slot(): Slot {
  const global = globalThis as Record<symbol, Slot | undefined>;
  global[SLOT] ??= { host: undefined, pending: [] };
  return global[SLOT];
}

/** Called by worker health when it starts (and with undefined when it stops): adopts waiting tasks. */
export function setTaskHost(next: TaskHost | undefined): void {
  const tasks = slot();
  tasks.host = next;
  if (next) for (const task of tasks.pending.splice(0)) next.addTask(task);
}

export function watch(name: string, options: WatchOptions = {}): WatchedTask {
  const tasks = slot();
  const intervalMs =
    options.intervalMs ?? tasks.host?.defaultIntervalMs ?? DEFAULT_CONFIG.heartbeatIntervalMs;
  const task = new TaskInstance(name, intervalMs);
  if (tasks.host) tasks.host.addTask(task);
  else tasks.pending.push(task);
  return {
    beat: () => task.beat(),
    stop: async () => {
      const host = slot().host;
      if (host) await host.stopTask(task, 'stopped (task.stop())');
      else task.stop('stopped (task.stop())');
    },
    wrap:
      (fn) =>
      async (...args) => {
        const result = await fn(...args);
        task.beat();
        return result;
      },
  };
}
