import type { Context, Tracer } from '@opentelemetry/api';
import { core } from '../otel-sdk.js';
import type { CaptureSettings } from './capture.js';
import type { Observers } from './observers.js';
import type { ProcessParent } from './types.js';

/** What the wrappers need from the instrumentation: read per call, so setConfig and setTracerProvider apply at once. */
export interface Host extends CaptureSettings {
  readonly tracer: Tracer;
  readonly observers: Observers;
  readonly processParent: ProcessParent;
  readonly maxChainDepth: number;
  readonly traceRedis: boolean;
  readonly bulkCreateSpans: boolean;
  /**
   * No TracerProvider is registered: every span would be a no-op that only
   * carries its parent's context on. The wrappers then start none and
   * propagate the active context as it is (same metadata, same contexts).
   */
  readonly tracingOff: boolean;
}

/**
 * The context BullMQ's own work runs in: BullMQ's Redis commands produce no
 * spans (e.g. from instrumentation-ioredis) unless traceRedis is on.
 */
export function internalContext(host: Host, ctx: Context): Context {
  return host.traceRedis ? ctx : core.suppressTracing(ctx);
}

/**
 * BullMQ's native telemetry was configured on this instance. jobwatch then
 * makes no spans for it (and does not suppress its Redis work, which would
 * silence BullMQ's own spans): the user asked BullMQ for them explicitly,
 * and two spans per operation would only confuse. Lifecycle hooks still run,
 * so metrics and health are unaffected.
 */
export function hasNativeTelemetry(instance: { opts?: object | undefined }): boolean {
  return (instance.opts as { telemetry?: unknown } | undefined)?.telemetry != null;
}
