// User code keeps its context. BullMQ's loops and per-job bookkeeping run with
// tracing suppressed (so its Redis commands make no spans), and BullMQ emits
// its events from inside them. Listeners are the app's code: they run in the
// context they would have without jobwatch, and an event about a job that is
// being processed runs in that attempt's trace, so a listener's outgoing call
// carries the job's traceparent.

import { type Context, context } from '@opentelemetry/api';
import { core } from '../otel-sdk.js';

type Emit = (this: EmitterLike, event: string | symbol, ...args: unknown[]) => boolean;

interface EmitterLike {
  listenerCount(event: string | symbol): number;
}

/** Wraps Worker/QueueEvents emit; `jobContext` says which trace an event's first argument (a Job) belongs to. */
export function wrapEmit(jobContext: (job: object) => Context | undefined) {
  return (original: Emit) =>
    function emit(this: EmitterLike, event: string | symbol, ...args: unknown[]) {
      const active = context.active();
      // the common case, nothing to restore: one check
      if (!core.isTracingSuppressed(active) || this.listenerCount(event) === 0) {
        return original.call(this, event, ...args);
      }
      const first = args[0];
      const ctx =
        (first !== null && typeof first === 'object' && jobContext(first)) ||
        core.unsuppressTracing(active);
      return context.with(ctx, original, this, event, ...args);
    };
}
