// Trace context travels in the job's telemetry metadata (`opts.telemetry.metadata`,
// stored by BullMQ as `tm`), in exactly the format of BullMQ's native
// telemetry with bullmq-otel: the JSON text of the global propagator's
// carrier, e.g. {"traceparent":"00-…-01","tracestate":"…","baggage":"…"}.
// So a job enqueued by either side continues its trace on the other.
// Nothing is ever written to job.data.

import { type Context, propagation, ROOT_CONTEXT } from '@opentelemetry/api';

/** Longer metadata is not a trace header we wrote or would read: ignored, job processes as a new root. */
const MAX_METADATA_LENGTH = 8192;

export interface TelemetryOpts {
  metadata?: unknown;
  omitContext?: boolean;
}

/** Job options as far as propagation is concerned. */
export interface OptsWithTelemetry {
  telemetry?: TelemetryOpts;
  [key: string]: unknown;
}

/** The metadata string for `ctx`, or undefined when the propagator writes nothing (e.g. no SDK). */
export function metadataFor(ctx: Context): string | undefined {
  const carrier: Record<string, string> = {};
  propagation.inject(ctx, carrier);
  for (const _ in carrier) return JSON.stringify(carrier);
  return undefined;
}

/**
 * A copy of `opts` (never the caller's object) that carries `ctx`. Options
 * that already have metadata (the user's own, or BullMQ's) or ask for
 * `omitContext` are returned as they are.
 */
export function withContext<T>(opts: T, ctx: Context): T {
  if (opts !== undefined && (opts === null || typeof opts !== 'object')) return opts;
  const telemetry = (opts as OptsWithTelemetry | undefined)?.telemetry;
  if (telemetry?.metadata !== undefined || telemetry?.omitContext) return opts;
  const metadata = metadataFor(ctx);
  if (metadata === undefined) return opts;
  return { ...opts, telemetry: { ...telemetry, metadata } } as T;
}

/**
 * The producer's context from a job's metadata, or undefined when there is
 * none or it is malformed, oversized, foreign or of the wrong type (the job
 * then gets a new root span; nothing else changes for it).
 */
export function contextFromMetadata(metadata: unknown): Context | undefined {
  if (typeof metadata !== 'string' || metadata.length > MAX_METADATA_LENGTH) return undefined;
  let carrier: unknown;
  try {
    carrier = JSON.parse(metadata);
  } catch {
    return undefined;
  }
  if (carrier === null || typeof carrier !== 'object' || Array.isArray(carrier)) return undefined;
  return propagation.extract(ROOT_CONTEXT, carrier);
}
