// watch(): worker.status for background loops that are not BullMQ workers
// (cleanup timers, pollers). The loop calls beat() each time it makes
// progress; after 3 of its intervals without one it reports 0 ("hung"), and
// if its process dies the registry reports it dead like any worker.

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

/** What watch() hands its tasks to; set by startHealth (the preload), else tasks stay local. */
export interface TaskHost {
  readonly defaultIntervalMs: number;
  addTask(task: TaskInstance): void;
  stopTask(task: TaskInstance, reason: string): Promise<void>;
}

const pending: TaskInstance[] = [];
let host: TaskHost | undefined;

/** Called by startHealth: adopts the tasks created before jobwatch started. */
export function setTaskHost(next: TaskHost | undefined): void {
  host = next;
  if (next) for (const task of pending.splice(0)) next.addTask(task);
}

export function watch(name: string, options: WatchOptions = {}): WatchedTask {
  const intervalMs = options.intervalMs ?? host?.defaultIntervalMs ?? 5000;
  const task = new TaskInstance(name, intervalMs);
  if (host) host.addTask(task);
  else pending.push(task);
  return {
    beat: () => task.beat(),
    stop: async () => {
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
