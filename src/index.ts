export type { JobwatchConfig } from './config.js';
export type { AttemptOutcome, JobLike, LifecycleObserver, WorkerLike } from './lifecycle.js';
export { BullMQInstrumentation } from './instrumentation/instrumentation.js';
export type { BullMQInstrumentationConfig } from './instrumentation/types.js';
