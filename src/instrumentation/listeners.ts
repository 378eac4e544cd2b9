// User code keeps its context. BullMQ's loops and per-job bookkeeping run with
// tracing suppressed (so its Redis commands make no spans), and BullMQ emits
// its events from inside them. Listeners are the app's code: they run in the
// context they would have without jobwatch, and an event about a job that is
// being processed runs in that attempt's trace, so a listener's outgoing call
// carries the job's traceparent.

import { type Context, context } from '@opentelemetry/api';
import { core } from '../otel-sdk.js';
import type { Host } from './host.js';

type Emit = (this: EmitterLike, event: string | symbol, ...args: unknown[]) => boolean;

interface EmitterLike {
  listenerCount(event: string | symbol): number;
}

/**
 * Wraps Worker/Queue/QueueEvents emit; `jobContext` says which trace an
 * event's first argument (a Job) belongs to. Without a TracerProvider nothing
 * could be traced in a listener, so there is nothing to restore.
 */
export function wrapEmit(host: Host, jobContext: (job: object) => Context | undefined) {
  return (original: Emit) =>
    function emit(this: EmitterLike, event: string | symbol, first?: unknown) {
      const active = context.active();
      if (!core.isTracingSuppressed(active) || this.listenerCount(event) === 0 || host.tracingOff) {
        // biome-ignore lint/complexity/noArguments: forwards every argument, without an array per event
        return original.apply(this, arguments as unknown as Parameters<Emit>);
      }
      const ctx =
        (first !== null && typeof first === 'object' && jobContext(first)) ||
        core.unsuppressTracing(active);
      // biome-ignore lint/complexity/noArguments: as above
      const args = arguments as unknown as Parameters<Emit>;
      return context.with(ctx, () => original.apply(this, args));
    };
}
