export type { JobwatchConfig } from './config.js';
export type { AttemptOutcome, JobLike, LifecycleObserver, WorkerLike } from './lifecycle.js';
