// job.log() lines, which users write precisely so that operators can read
// them, as events on the attempt's `process` span (JOBWATCH_CAPTURE_JOB_LOGS).
// Opt-in, like job data: a line is the app's own text. Bounded per attempt:
// the first MAX_JOB_LOG_EVENTS lines, each cut to JOBWATCH_CAPTURE_MAX_BYTES;
// the span's end says how many more there were. BullMQ stores the line as
// always; nothing here touches the store.

import { type Span, trace } from '@opentelemetry/api';
import { ignoreInternalError } from '../log.js';
import { truncateUtf8 } from './capture.js';
import { processorContextOf } from './consumer.js';
import type { Host } from './host.js';
import { BULLMQ_JOB_LOG_DROPPED, BULLMQ_JOB_LOG_EVENT, BULLMQ_JOB_LOG_MESSAGE } from './semconv.js';

export const MAX_JOB_LOG_EVENTS = 100;

type Method = (this: any, ...args: any[]) => any;

/** Lines recorded (and left out) per attempt span. */
const lines = new WeakMap<Span, number>();

export function wrapJobLog(host: Host): (original: Method) => Method {
  return (original) =>
    function log(this: object, row: unknown, ...rest: unknown[]) {
      if (host.captureJobLogs) {
        try {
          record(host, this, row);
        } catch (err) {
          ignoreInternalError('job.log', err);
        }
      }
      return original.call(this, row, ...rest);
    };
}

function record(host: Host, job: object, row: unknown): void {
  const ctx = processorContextOf(job);
  const span = ctx && trace.getSpan(ctx);
  if (span === undefined || !span.isRecording()) return; // not inside an attempt: a Queue's job
  const count = (lines.get(span) ?? 0) + 1;
  lines.set(span, count);
  if (count <= MAX_JOB_LOG_EVENTS) {
    span.addEvent(BULLMQ_JOB_LOG_EVENT, {
      [BULLMQ_JOB_LOG_MESSAGE]: truncateUtf8(String(row), host.captureMaxBytes),
    });
  } else {
    span.setAttribute(BULLMQ_JOB_LOG_DROPPED, count - MAX_JOB_LOG_EVENTS);
  }
}
