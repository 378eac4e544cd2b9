// What of a job's content may reach telemetry. By default nothing: no job
// data, no result, no error message (messages often quote the data: "user
// x@y.z not found"). A failure is recorded by its type and its stack frames
// only. Users opt in per kind, and what they opt into is bounded in size.

import type { Span } from '@opentelemetry/api';
import { BULLMQ_JOB_DATA } from './semconv.js';

export interface CaptureSettings {
  /** Error messages in exception events and span status. */
  readonly captureErrorMessage: boolean;
  /** Job data as bullmq.job.data (JSON) on send, create and process spans. */
  readonly captureJobData: boolean;
  /** Longest captured job data, error message or job log line, in UTF-8 bytes. */
  readonly captureMaxBytes: number;
  /** job.log() lines as events on the attempt's process span. */
  readonly captureJobLogs: boolean;
}

/** `text` cut to at most `maxBytes` bytes of UTF-8, never inside a character. */
export function truncateUtf8(text: string, maxBytes: number): string {
  // a UTF-16 unit is at most 3 bytes of UTF-8: most texts need no measuring
  if (text.length * 3 <= maxBytes || Buffer.byteLength(text) <= maxBytes) return text;
  const cut = Buffer.from(text).subarray(0, maxBytes).toString('utf8');
  // a character split by the cut decodes as U+FFFD
  return cut.endsWith('\uFFFD') ? cut.slice(0, -1) : cut;
}

/** Adds the job's data to `span` when the user opted in; data that cannot be serialised is left out. */
export function setJobData(span: Span, capture: CaptureSettings, data: unknown): void {
  if (!capture.captureJobData || data === undefined) return;
  let json: string | undefined;
  try {
    json = JSON.stringify(data);
  } catch {
    return; // circular or BigInt: BullMQ itself would refuse it
  }
  if (json !== undefined)
    span.setAttribute(BULLMQ_JOB_DATA, truncateUtf8(json, capture.captureMaxBytes));
}

/** V8 stack frame lines (`    at fn (file:line:col)`): what of a stack is code, not message. */
const FRAME = /^\s+at /;

/**
 * The stack trace without the message: the header line `Name: message`
 * (and any further lines of a multi-line message) becomes the type alone.
 */
export function stackWithoutMessage(type: string, stack: unknown): string | undefined {
  if (typeof stack !== 'string') return undefined;
  const frames = stack.split('\n').filter((line) => FRAME.test(line));
  return frames.length > 0 ? `${type}\n${frames.join('\n')}` : undefined;
}
