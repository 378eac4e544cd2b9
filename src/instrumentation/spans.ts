// Ending spans: the few lines every wrapper shares.

import { type Span, SpanStatusCode } from '@opentelemetry/api';
import { errorType } from './attributes.js';
import { type CaptureSettings, stackWithoutMessage, truncateUtf8 } from './capture.js';
import { ERROR_TYPE, MESSAGING_MESSAGE_ID } from './semconv.js';

/** Ends a producer span once BullMQ has given the job its id. */
export function endSent(span: Span | undefined, job: { id?: unknown } | undefined): void {
  if (span === undefined) return;
  const id = job?.id;
  if (id !== undefined && id !== null) span.setAttribute(MESSAGING_MESSAGE_ID, String(id));
  span.end();
}

/**
 * Marks the span failed with `err`: error.type, an exception event and status
 * ERROR. By default the event has the type and stack frames but no message,
 * and the status no description; captureErrorMessage adds both (bounded).
 */
export function recordFailure(span: Span, err: unknown, capture: CaptureSettings): void {
  const type = errorType(err);
  span.setAttribute(ERROR_TYPE, type);
  const message = capture.captureErrorMessage
    ? truncateUtf8(
        err instanceof Error ? String(err.message) : describeThrown(err),
        capture.captureMaxBytes,
      )
    : undefined;
  // exception.type names the class as error.type does (a subclass that sets no name still says 'Error')
  const stack = err instanceof Error ? err.stack : undefined;
  span.recordException({
    name: type,
    message,
    stack: message === undefined ? stackWithoutMessage(type, stack) : stack,
  });
  span.setStatus(
    message ? { code: SpanStatusCode.ERROR, message } : { code: SpanStatusCode.ERROR },
  );
}

/** What a non-Error throw says about itself; its own toString may throw too. */
function describeThrown(err: unknown): string {
  try {
    return String(err);
  } catch {
    return typeof err;
  }
}

export function endFailed(span: Span | undefined, err: unknown, capture: CaptureSettings): void {
  if (span === undefined) return;
  recordFailure(span, err, capture);
  span.end();
}
