// The fields a log record gets to join its trace: the active span's ids (the
// names the OpenTelemetry log instrumentations use, so backends that already
// link `trace_id` to traces work unchanged), the job a processor runs for
// (semconv's messaging attributes, plus the attempt), and the request id that
// traveled with the job as baggage (src/http/request-id.ts).

import { type Context, context, isSpanContextValid, propagation, trace } from '@opentelemetry/api';
import { jobOf } from './job-context.js';

/** The baggage entry (and log field) of an incoming request's id. */
export const REQUEST_ID = 'request.id';

export type LogFields = Record<string, string | number>;

/** The fields for a record written now, or undefined outside any trace. */
export function correlationFields(ctx: Context = context.active()): LogFields | undefined {
  const span = trace.getSpanContext(ctx);
  if (span === undefined || !isSpanContextValid(span)) return undefined;
  const fields: LogFields = {
    trace_id: span.traceId,
    span_id: span.spanId,
    trace_flags: `0${span.traceFlags.toString(16)}`,
  };
  const job = jobOf(ctx);
  if (job !== undefined) {
    if (job.id !== undefined) fields['messaging.message.id'] = job.id;
    if (job.queueName !== undefined) fields['messaging.destination.name'] = job.queueName;
    fields['bullmq.job.attempt'] = (job.attemptsMade ?? 0) + 1;
  }
  const requestId = propagation.getBaggage(ctx)?.getEntry(REQUEST_ID)?.value;
  if (requestId !== undefined) fields[REQUEST_ID] = requestId;
  return fields;
}

/** Adds the fields to `record` where it has none of its own under those names. */
export function addCorrelation(record: Record<string, unknown>): void {
  const fields = correlationFields();
  if (fields === undefined) return;
  for (const key in fields) if (record[key] === undefined) record[key] = fields[key];
}
