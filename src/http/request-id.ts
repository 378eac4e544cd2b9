// An incoming request's id (JOBWATCH_REQUEST_ID_HEADER, e.g. X-Request-Id)
// carried as W3C baggage: the producer's propagation writes it into the jobs
// the request enqueues, so it lands on their `process` spans and on every log
// record written while they run (src/logs/correlation.ts). Off unless the
// setting names a header; a request without that header carries nothing.

import type { IncomingHttpHeaders } from 'node:http';
import { type Context, propagation } from '@opentelemetry/api';
import { REQUEST_ID } from '../logs/correlation.js';

export { REQUEST_ID };

/** Longest id carried: ids are short tokens, never a place for data. */
const MAX_LENGTH = 128;
/** Visible ASCII only: an id is copied into headers, logs and span attributes. */
const PRINTABLE = /^[\x21-\x7e]+$/;

/** `ctx` with the request's id as baggage, when the header is configured and present. */
export function withRequestId(
  ctx: Context,
  headers: IncomingHttpHeaders,
  header: string | undefined,
): Context {
  if (header === undefined) return ctx;
  const raw = headers[header];
  const value = (Array.isArray(raw) ? raw[0] : raw)?.trim().slice(0, MAX_LENGTH);
  if (!value || !PRINTABLE.test(value)) return ctx;
  const baggage = propagation.getBaggage(ctx) ?? propagation.createBaggage();
  return propagation.setBaggage(ctx, baggage.setEntry(REQUEST_ID, { value }));
}

/** The request id a context carries, if any. */
export function requestIdOf(ctx: Context): string | undefined {
  return propagation.getBaggage(ctx)?.getEntry(REQUEST_ID)?.value;
}
