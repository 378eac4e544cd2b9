// Fans the lifecycle facts out to the registered observers (metrics, health).
// Plain method calls over an array; each observer call is isolated, so a bug
// in one observer never reaches BullMQ, the job, or the other observers.

import type {
  AttemptOutcome,
  JobLike,
  LifecycleObserver,
  QueueUserLike,
  WorkerLike,
} from '../lifecycle.js';
import { ignoreInternalError } from '../log.js';

type Hook = keyof LifecycleObserver;

export class Observers {
  private list: LifecycleObserver[] = [];

  add(observer: LifecycleObserver): void {
    this.list = [...this.list, observer];
  }

  remove(observer: LifecycleObserver): void {
    this.list = this.list.filter((o) => o !== observer);
  }

  queueUsed(user: QueueUserLike, kind: 'queue' | 'worker' | 'flow'): void {
    this.call('queueUsed', user, kind);
  }

  workerStarted(worker: WorkerLike): void {
    this.call('workerStarted', worker);
  }

  workerClosed(worker: WorkerLike): void {
    this.call('workerClosed', worker);
  }

  jobsSent(queueName: string, jobName: string, count: number): void {
    this.call('jobsSent', queueName, jobName, count);
  }

  attemptStarted(worker: WorkerLike, job: JobLike, startedAt: number): void {
    this.call('attemptStarted', worker, job, startedAt);
  }

  attemptEnded(worker: WorkerLike, job: JobLike, outcome: AttemptOutcome, durationMs: number) {
    this.call('attemptEnded', worker, job, outcome, durationMs);
  }

  jobStalled(worker: WorkerLike, jobId: string): void {
    this.call('jobStalled', worker, jobId);
  }

  // The same guard as log.ts's guard(), without a closure per call: this runs per job.
  private call(hook: Hook, a: unknown, b?: unknown, c?: unknown, d?: unknown): void {
    const list = this.list;
    for (let i = 0; i < list.length; i++) {
      const observer = list[i]!;
      const fn = observer[hook] as ((...args: unknown[]) => void) | undefined;
      if (fn === undefined) continue;
      try {
        fn.call(observer, a, b, c, d);
      } catch (err) {
        ignoreInternalError(`observer.${hook}`, err);
      }
    }
  }
}
