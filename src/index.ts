export type { JobwatchConfig } from './config.js';
export type { WatchedTask, WatchOptions } from './health/watch.js';
export { watch } from './health/watch.js';
export { BullMQInstrumentation } from './instrumentation/instrumentation.js';
export type { BullMQInstrumentationConfig } from './instrumentation/types.js';
export type { AttemptOutcome, JobLike, LifecycleObserver, WorkerLike } from './lifecycle.js';
export { start } from './preload/start.js';
