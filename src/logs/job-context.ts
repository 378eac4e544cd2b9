// The job a processor runs for, carried in the processor's context (set with
// the `process` span by src/instrumentation/consumer.ts), so that a log
// record written anywhere in that call tree can say which job it belongs to.

import { type Context, createContextKey } from '@opentelemetry/api';

/** What a log record needs of the Job: read when a record is written, never copied per job. */
export interface ContextJob {
  id?: string;
  queueName?: string;
  attemptsMade?: number;
}

export const JOB_CONTEXT = createContextKey('jobwatch.job');

export function jobOf(ctx: Context): ContextJob | undefined {
  return ctx.getValue(JOB_CONTEXT) as ContextJob | undefined;
}
