// Job metadata is the JSON of the global propagator's carrier, so that jobs
// enqueued by jobwatch or by bullmq-otel continue their trace on either side.
// The fast path must write and read exactly what the propagator would, and
// step aside for anything it does not cover.
import {
  type Context,
  propagation,
  ROOT_CONTEXT,
  type SpanContext,
  type TextMapPropagator,
  TraceFlags,
  trace,
} from '@opentelemetry/api';
import { afterEach, describe, expect, it } from 'vitest';
import { LIGHT_ROOT } from '../../src/instrumentation/light-context.js';
import {
  CHAIN_DEPTH,
  contextFromMetadata,
  metadataFor,
  metadataForSpan,
} from '../../src/instrumentation/propagation.js';
import { core } from '../../src/otel-sdk.js';

const w3c = () =>
  new core.CompositePropagator({
    propagators: [new core.W3CTraceContextPropagator(), new core.W3CBaggagePropagator()],
  });

function use(propagator: TextMapPropagator): void {
  propagation.disable();
  propagation.setGlobalPropagator(propagator);
}

afterEach(() => propagation.disable());

const span = (traceFlags: number, traceState?: string): SpanContext => ({
  traceId: 'a1b2c3d4e5f60718293a4b5c6d7e8f90',
  spanId: '0123456789abcdef',
  traceFlags,
  ...(traceState ? { traceState: new core.TraceState(traceState) } : {}),
});

/** What the propagator itself writes for `ctx`, as job metadata. */
function propagatorMetadata(ctx: Context): string | undefined {
  const carrier: Record<string, string> = {};
  propagation.inject(ctx, carrier);
  return Object.keys(carrier).length ? JSON.stringify(carrier) : undefined;
}

const contexts: [string, Context][] = [
  ['a sampled span', trace.setSpanContext(ROOT_CONTEXT, span(TraceFlags.SAMPLED))],
  ['an unsampled span', trace.setSpanContext(ROOT_CONTEXT, span(TraceFlags.NONE))],
  ['a span with tracestate', trace.setSpanContext(ROOT_CONTEXT, span(1, 'vendor=x'))],
  [
    'baggage',
    propagation.setBaggage(
      trace.setSpanContext(ROOT_CONTEXT, span(1)),
      propagation.createBaggage({ tenant: { value: 'acme' } }),
    ),
  ],
  ['suppressed tracing', core.suppressTracing(trace.setSpanContext(ROOT_CONTEXT, span(1)))],
  ['no span', ROOT_CONTEXT],
];

describe('job metadata with the W3C trace-context and baggage propagators', () => {
  it.each(contexts)('is what the propagator writes, for %s', (_, ctx) => {
    use(w3c());
    expect(metadataFor(ctx)).toBe(propagatorMetadata(ctx));
  });

  it('for a span of its own is what the propagator writes with that span set', () => {
    use(w3c());
    const parent = propagation.setBaggage(
      ROOT_CONTEXT,
      propagation.createBaggage({ tenant: { value: 'acme' } }),
    );
    const created = trace.wrapSpanContext(span(TraceFlags.SAMPLED));
    expect(metadataForSpan(ROOT_CONTEXT, created)).toBe(
      propagatorMetadata(trace.setSpan(ROOT_CONTEXT, created)),
    );
    expect(metadataForSpan(parent, created)).toBe(
      propagatorMetadata(trace.setSpan(parent, created)),
    );
  });

  it("carries a processor's chain depth on, one deeper", () => {
    use(w3c());
    const ctx = trace.setSpanContext(LIGHT_ROOT, span(1)).setValue(CHAIN_DEPTH, 2);
    const metadata = metadataFor(ctx)!;
    expect(JSON.parse(metadata)).toEqual({
      traceparent: `00-${span(1).traceId}-${span(1).spanId}-01`,
      tracestate: 'jobwatch=d3',
    });
  });

  it.each([
    ['sampled', `{"traceparent":"00-${span(1).traceId}-${span(1).spanId}-01"}`],
    ['unsampled', `{"traceparent":"00-${span(0).traceId}-${span(0).spanId}-00"}`],
    [
      'with tracestate',
      `{"traceparent":"00-${span(1).traceId}-${span(1).spanId}-01","tracestate":"jobwatch=d2"}`,
    ],
    [
      'with baggage',
      `{"traceparent":"00-${span(1).traceId}-${span(1).spanId}-01","baggage":"tenant=acme"}`,
    ],
    ['uppercase ids', `{"traceparent":"00-${span(1).traceId.toUpperCase()}-${span(1).spanId}-01"}`],
    ['a zero trace id', `{"traceparent":"00-${'0'.repeat(32)}-${span(1).spanId}-01"}`],
    ['spaces', `{ "traceparent": "00-${span(1).traceId}-${span(1).spanId}-01" }`],
  ])('is read as the propagator reads it, %s', (_, metadata) => {
    use(w3c());
    const read = contextFromMetadata(metadata)!;
    const expected = propagation.extract(ROOT_CONTEXT, JSON.parse(metadata));
    expect(trace.getSpanContext(read)).toEqual(trace.getSpanContext(expected));
    expect(propagation.getBaggage(read)?.getAllEntries()).toEqual(
      propagation.getBaggage(expected)?.getAllEntries(),
    );
  });
});

describe('job metadata with another propagator', () => {
  /** Writes and reads its own header only. */
  const custom: TextMapPropagator = {
    inject(ctx, carrier, setter) {
      const id = trace.getSpanContext(ctx)?.spanId;
      if (id) setter.set(carrier, 'x-span', id);
    },
    extract(ctx, carrier, getter) {
      const id = getter.get(carrier, 'x-span');
      return typeof id === 'string'
        ? trace.setSpanContext(ctx, { ...span(1), spanId: id, isRemote: true })
        : ctx;
    },
    fields: () => ['x-span'],
  };

  /** Claims the W3C fields but writes something else. */
  const impostor: TextMapPropagator = {
    ...w3c(),
    inject(ctx, carrier, setter) {
      w3c().inject(ctx, carrier, setter);
      setter.set(carrier, 'traceparent', 'rewritten');
    },
    extract: (ctx) => ctx,
    fields: () => ['traceparent', 'tracestate'],
  };

  it('writes what that propagator writes', () => {
    use(custom);
    const ctx = trace.setSpanContext(ROOT_CONTEXT, span(1));
    expect(metadataFor(ctx)).toBe('{"x-span":"0123456789abcdef"}');
    use(impostor);
    expect(metadataFor(ctx)).toBe('{"traceparent":"rewritten"}');
  });

  it('reads a traceparent only as that propagator does', () => {
    const metadata = `{"traceparent":"00-${span(1).traceId}-${span(1).spanId}-01"}`;
    use(impostor);
    expect(trace.getSpanContext(contextFromMetadata(metadata)!)).toBeUndefined();
    use(w3c());
    expect(trace.getSpanContext(contextFromMetadata(metadata)!)?.spanId).toBe(span(1).spanId);
  });
});
