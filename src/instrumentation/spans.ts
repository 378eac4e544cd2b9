// Ending spans: the few lines every wrapper shares.

import { type Span, SpanStatusCode } from '@opentelemetry/api';
import { errorType } from './attributes.js';
import { ERROR_TYPE, MESSAGING_MESSAGE_ID } from './semconv.js';

/** Ends a producer span once BullMQ has given the job its id. */
export function endSent(span: Span | undefined, job: { id?: unknown } | undefined): void {
  if (span === undefined) return;
  const id = job?.id;
  if (id !== undefined && id !== null) span.setAttribute(MESSAGING_MESSAGE_ID, String(id));
  span.end();
}

/** Marks the span failed with `err` (error.type, the exception, status ERROR). */
export function recordFailure(span: Span, err: unknown): void {
  const type = errorType(err);
  span.setAttribute(ERROR_TYPE, type);
  // exception.type names the class as error.type does (a subclass that sets no name still says 'Error')
  span.recordException(
    err instanceof Error
      ? { name: type, message: err.message, stack: err.stack }
      : { name: type, message: describeThrown(err) },
  );
  span.setStatus({ code: SpanStatusCode.ERROR });
}

/** What a non-Error throw says about itself; its own toString may throw too. */
function describeThrown(err: unknown): string {
  try {
    return String(err);
  } catch {
    return typeof err;
  }
}

export function endFailed(span: Span | undefined, err: unknown): void {
  if (span === undefined) return;
  recordFailure(span, err);
  span.end();
}
