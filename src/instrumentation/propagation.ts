// Trace context travels in the job's telemetry metadata (`opts.telemetry.metadata`,
// stored by BullMQ as `tm`), in exactly the format of BullMQ's native
// telemetry with bullmq-otel: the JSON text of the global propagator's
// carrier, e.g. {"traceparent":"00-…-01","tracestate":"…","baggage":"…"}.
// So a job enqueued by either side continues its trace on the other.
// Nothing is ever written to job.data.

import { type Context, createContextKey, propagation, type Span, trace } from '@opentelemetry/api';
import { LIGHT_ROOT } from './light-context.js';
import { fastExtract, fastMetadata, NOT_FAST } from './trace-parent.js';

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

/**
 * Chains of jobs that enqueue jobs (a processor adding the next job, job
 * loops) would grow one trace without end. The context a processor runs in
 * holds how deep in such a chain its job is; a job enqueued there carries its
 * own depth as a `jobwatch=d<depth>` tracestate member (W3C's place for a
 * vendor's own flags); jobs enqueued from anywhere else carry nothing extra.
 */
export const CHAIN_DEPTH = createContextKey('jobwatch.chain_depth');
const MEMBER_KEY = 'jobwatch';
const MEMBER_PREFIX = `${MEMBER_KEY}=`;

/** The metadata string for `ctx`, or undefined when the propagator writes nothing (e.g. no SDK). */
export function metadataFor(ctx: Context): string | undefined {
  const fast = fastMetadata(ctx, trace.getSpanContext(ctx), depthMember(ctx));
  return fast === NOT_FAST ? injected(ctx) : fast;
}

/** metadataFor(trace.setSpan(ctx, span)), without making that context when the fast path applies. */
export function metadataForSpan(ctx: Context, span: Span): string | undefined {
  const fast = fastMetadata(ctx, span.spanContext(), depthMember(ctx));
  return fast === NOT_FAST ? injected(trace.setSpan(ctx, span)) : fast;
}

function depthMember(ctx: Context): string | undefined {
  const depth = ctx.getValue(CHAIN_DEPTH) as number | undefined;
  return depth === undefined ? undefined : `${MEMBER_PREFIX}d${depth + 1}`;
}

function injected(ctx: Context): string | undefined {
  const carrier: Record<string, string> = {};
  propagation.inject(ctx, carrier);
  const depth = ctx.getValue(CHAIN_DEPTH) as number | undefined;
  const state = carrier.tracestate;
  if (depth !== undefined || state?.includes(MEMBER_PREFIX)) setDepth(carrier, depth);
  for (const _ in carrier) return JSON.stringify(carrier);
  return undefined;
}

/** Replaces jobwatch's tracestate member (inherited from the processed job) with the new job's depth. */
function setDepth(carrier: Record<string, string>, parentDepth: number | undefined): void {
  const members = (carrier.tracestate ?? '')
    .split(',')
    .filter((m) => m.trim() !== '' && !m.trim().startsWith(MEMBER_PREFIX));
  if (parentDepth !== undefined) members.unshift(`${MEMBER_PREFIX}d${parentDepth + 1}`);
  if (members.length > 0) carrier.tracestate = members.join(',');
  else delete carrier.tracestate;
}

/** How deep in a chain of jobs the job whose producer context this is sits (1: not in a chain). */
export function chainDepth(producer: Context): number {
  const value = trace.getSpanContext(producer)?.traceState?.get(MEMBER_KEY);
  if (value === undefined || value[0] !== 'd') return 1;
  const depth = Number(value.slice(1));
  return Number.isInteger(depth) && depth > 1 ? depth : 1;
}

/**
 * A copy of `opts` (never the caller's object) that carries `ctx`. Options
 * that already have metadata (the user's own, or BullMQ's) or ask for
 * `omitContext` are returned as they are.
 */
export function withContext<T>(opts: T, ctx: Context): T {
  return takesContext(opts) ? withMetadata(opts, metadataFor(ctx)) : opts;
}

/** withContext(opts, trace.setSpan(ctx, span)). */
export function withSpanContext<T>(opts: T, ctx: Context, span: Span): T {
  return takesContext(opts) ? withMetadata(opts, metadataForSpan(ctx, span)) : opts;
}

/** withContext with the metadata already made (e.g. once for a whole batch); `opts` itself when there is none. */
export function withMetadata<T>(opts: T, metadata: string | undefined): T {
  if (metadata === undefined || !takesContext(opts)) return opts;
  const telemetry = (opts as OptsWithTelemetry | undefined)?.telemetry;
  return { ...opts, telemetry: { ...telemetry, metadata } } as T;
}

function takesContext(opts: unknown): boolean {
  if (opts !== undefined && (opts === null || typeof opts !== 'object')) return false;
  const telemetry = (opts as OptsWithTelemetry | undefined)?.telemetry;
  return telemetry?.metadata === undefined && !telemetry?.omitContext;
}

/**
 * The producer's context from a job's metadata, or undefined when there is
 * none or it is malformed, oversized, foreign or of the wrong type (the job
 * then gets a new root span; nothing else changes for it).
 */
export function contextFromMetadata(metadata: unknown): Context | undefined {
  if (typeof metadata !== 'string' || metadata.length > MAX_METADATA_LENGTH) return undefined;
  const fast = fastExtract(metadata, LIGHT_ROOT);
  if (fast !== NOT_FAST) return fast;
  let carrier: unknown;
  try {
    carrier = JSON.parse(metadata);
  } catch {
    return undefined;
  }
  if (carrier === null || typeof carrier !== 'object' || Array.isArray(carrier)) return undefined;
  return propagation.extract(LIGHT_ROOT, carrier);
}
