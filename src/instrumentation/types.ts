import type { InstrumentationConfig } from '@opentelemetry/instrumentation';
import type { ProcessParent } from '../config.js';

export type { ProcessParent } from '../config.js';

export interface BullMQInstrumentationConfig extends InstrumentationConfig {
  processParent?: ProcessParent;
  /**
   * With `auto`: how many jobs, each enqueued by the previous one's
   * processor, share one trace before the next starts a linked trace. Default 10.
   */
  maxChainDepth?: number;
  /**
   * One `create` span per job of a Queue.addBulk, under the batch's `send`
   * span: each job gets its own creation context and its id on a producer
   * span. false (the default): the `send` span alone, and every job of the
   * batch carries its context (as BullMQ's native telemetry does; the
   * messaging conventions make create spans optional).
   */
  bulkCreateSpans?: boolean;
  /** Keep spans of BullMQ's own Redis commands (e.g. from instrumentation-ioredis). Default false. */
  traceRedis?: boolean;
  /** Record error messages in exception events and span status. Default false: type and stack frames only. */
  captureErrorMessage?: boolean;
  /** Record job data (JSON) as bullmq.job.data on send, create and process spans. Default false. */
  captureJobData?: boolean;
  /** Longest captured job data, error message or job log line, in UTF-8 bytes. Default 1024. */
  captureMaxBytes?: number;
  /** Record job.log() lines as events on the attempt's process span. Default false. */
  captureJobLogs?: boolean;
}
