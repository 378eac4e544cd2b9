// A fast path for the one job metadata shape that nearly every job carries,
// {"traceparent":"00-<trace id>-<span id>-<flags>"}: written and read without
// a carrier object, a getter/setter, JSON.parse or a regex, exactly as the
// W3C trace-context propagator (alone or with the W3C baggage propagator)
// would write and read it. It is taken only when the global propagator has
// been checked to behave that way (probed once per registered propagator,
// through the public API only); with any other propagator, with baggage,
// tracestate or suppressed tracing in play, or for any other metadata text,
// the caller takes the propagation API's own path.

import {
  type Context,
  createTraceState,
  isSpanContextValid,
  propagation,
  ROOT_CONTEXT,
  type SpanContext,
  TraceFlags,
  trace,
} from '@opentelemetry/api';
import { core } from '../otel-sdk.js';

const PREFIX = '{"traceparent":"00-';
const SUFFIX = '"}';
// {"traceparent":"00-  32 hex  -  16 hex  -  2 hex  "}
const TRACE_ID_AT = PREFIX.length;
const SPAN_ID_AT = TRACE_ID_AT + 33;
const FLAGS_AT = SPAN_ID_AT + 17;
const LENGTH = FLAGS_AT + 2 + SUFFIX.length;

/** The propagator fields of W3C trace context, with or without W3C baggage. */
const STANDARD_FIELDS = new Set(['traceparent,tracestate', 'baggage,traceparent,tracestate']);

let probedFields: readonly string[] = [];
let standard = false;

/**
 * Whether the global propagator writes and reads exactly what the fast path
 * does. The API keeps one propagator for the life of the process (a second
 * registration is refused until `propagation.disable()`), and its fields()
 * identify it: the decision is remade only when they change. (fields() is a
 * fresh copy per call with the SDK's propagators: compared item by item.)
 */
function standardPropagator(): boolean {
  const fields = propagation.fields();
  if (sameFields(fields, probedFields)) return standard;
  probedFields = fields;
  standard = STANDARD_FIELDS.has([...fields].sort().join(',')) && behavesAsW3C();
  return standard;
}

function sameFields(a: readonly string[], b: readonly string[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

const PROBE: SpanContext = {
  traceId: '0af7651916cd43dd8448eb211c80319c',
  spanId: 'b7ad6b7169203331',
  traceFlags: TraceFlags.SAMPLED,
};
const PROBE_PARENT = `00-${PROBE.traceId}-${PROBE.spanId}-01`;

/** The propagator's own inject and extract, on known inputs, give what the fast path would. */
function behavesAsW3C(): boolean {
  try {
    const plain: Record<string, string> = {};
    propagation.inject(trace.setSpanContext(ROOT_CONTEXT, PROBE), plain);
    const withState: Record<string, string> = {};
    const state = { ...PROBE, traceFlags: TraceFlags.NONE, traceState: createTraceState('p=1') };
    propagation.inject(trace.setSpanContext(ROOT_CONTEXT, state), withState);
    const suppressed: Record<string, string> = {};
    propagation.inject(core.suppressTracing(trace.setSpanContext(ROOT_CONTEXT, PROBE)), suppressed);
    const extracted = propagation.extract(ROOT_CONTEXT, { traceparent: PROBE_PARENT });
    const read = trace.getSpanContext(extracted);
    return (
      JSON.stringify(plain) === JSON.stringify({ traceparent: PROBE_PARENT }) &&
      JSON.stringify(withState) ===
        JSON.stringify({ traceparent: PROBE_PARENT.replace(/01$/, '00'), tracestate: 'p=1' }) &&
      Object.keys(suppressed).length === 0 &&
      read !== undefined &&
      read.traceId === PROBE.traceId &&
      read.spanId === PROBE.spanId &&
      read.traceFlags === PROBE.traceFlags &&
      read.isRemote === true &&
      read.traceState === undefined &&
      propagation.getBaggage(extracted) === undefined
    );
  } catch {
    return false;
  }
}

/** Returned when the fast path does not apply: the caller uses the propagation API. */
export const NOT_FAST = Symbol('jobwatch.not-fast');

/**
 * The metadata `ctx` with `span` set in it would get, or NOT_FAST.
 * `depthMember` is jobwatch's tracestate member for the new job, if any.
 */
export function fastMetadata(
  ctx: Context,
  span: SpanContext | undefined,
  depthMember: string | undefined,
): string | undefined | typeof NOT_FAST {
  if (
    span?.traceState !== undefined ||
    !standardPropagator() ||
    propagation.getBaggage(ctx) !== undefined ||
    core.isTracingSuppressed(ctx)
  ) {
    return NOT_FAST;
  }
  if (span === undefined || !isSpanContextValid(span)) {
    return depthMember === undefined ? undefined : NOT_FAST;
  }
  const parent = `00-${span.traceId}-${span.spanId}-0${Number(span.traceFlags || TraceFlags.NONE).toString(16)}`;
  // ids and flags are hex (checked above), the member is jobwatch's own: nothing to escape
  return depthMember === undefined
    ? `{"traceparent":"${parent}"}`
    : `{"traceparent":"${parent}","tracestate":"${depthMember}"}`;
}

/** The producer context in `metadata` of the fast shape, on `base`; NOT_FAST for any other text. */
export function fastExtract(metadata: string, base: Context): Context | typeof NOT_FAST {
  if (
    metadata.length !== LENGTH ||
    !metadata.startsWith(PREFIX) ||
    !metadata.endsWith(SUFFIX) ||
    metadata.charCodeAt(SPAN_ID_AT - 1) !== DASH ||
    metadata.charCodeAt(FLAGS_AT - 1) !== DASH ||
    !lowerHex(metadata, TRACE_ID_AT, SPAN_ID_AT - 1) ||
    !lowerHex(metadata, SPAN_ID_AT, FLAGS_AT - 1) ||
    !lowerHex(metadata, FLAGS_AT, FLAGS_AT + 2) ||
    !standardPropagator()
  ) {
    return NOT_FAST;
  }
  const traceId = metadata.slice(TRACE_ID_AT, SPAN_ID_AT - 1);
  const spanId = metadata.slice(SPAN_ID_AT, FLAGS_AT - 1);
  if (traceId === INVALID_TRACE_ID || spanId === INVALID_SPAN_ID) return NOT_FAST;
  const traceFlags = Number.parseInt(metadata.slice(FLAGS_AT, FLAGS_AT + 2), 16);
  return trace.setSpanContext(base, { traceId, spanId, traceFlags, isRemote: true });
}

const DASH = 0x2d;
const INVALID_TRACE_ID = '0'.repeat(32);
const INVALID_SPAN_ID = '0'.repeat(16);

/** Whether text[from, to) is lowercase hex, as the W3C propagator's own pattern requires. */
function lowerHex(text: string, from: number, to: number): boolean {
  for (let i = from; i < to; i++) {
    const c = text.charCodeAt(i);
    if (!((c >= 0x30 && c <= 0x39) || (c >= 0x61 && c <= 0x66))) return false;
  }
  return true;
}
