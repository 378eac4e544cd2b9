// The producer side: Queue.add, Queue.addBulk and Queue.upsertJobScheduler.
// Each call gets a `send <queue>` PRODUCER span; a bulk gets one `create
// <queue>` PRODUCER span per job under its `send` span. The span's context is
// written to the job's telemetry metadata (a copy of the caller's options),
// and BullMQ's own Redis work runs suppressed inside it.

import {
  type Attributes,
  type Context,
  context,
  type Span,
  SpanKind,
  trace,
} from '@opentelemetry/api';
import { guard, ignoreInternalError } from '../log.js';
import { operationAttributes, spanName } from './attributes.js';
import { setJobData } from './capture.js';
import { type Host, hasNativeTelemetry, internalContext } from './host.js';
import { lighten } from './light-context.js';
import { metadataFor, withContext, withMetadata, withSpanContext } from './propagation.js';
import {
  BULLMQ_JOB_DELAY,
  BULLMQ_JOB_NAME,
  BULLMQ_JOB_SCHEDULER_ID,
  MESSAGING_BATCH_MESSAGE_COUNT,
  OP_CREATE,
  OP_SEND,
} from './semconv.js';
import { endFailed, endSent } from './spans.js';

/** A BullMQ 5/6 Queue, as far as the producer wrappers read it. */
export interface QueueInstance {
  name: string;
  token?: unknown;
  opts?: {
    telemetry?: unknown;
    defaultJobOptions?: { telemetry?: unknown };
    [key: string]: unknown;
  };
}

interface JobsOptions {
  delay?: unknown;
  telemetry?: unknown;
  [key: string]: unknown;
}

interface BulkJob {
  name: string;
  data?: unknown;
  opts?: JobsOptions;
}

interface AddedJob {
  id?: string | undefined;
}

const STATE = Symbol('jobwatch.queue');

/** Built once per Queue: span names and attribute sets reused by every call. */
interface QueueState {
  native: boolean;
  /** The queue's defaultJobOptions set telemetry (metadata or omitContext): jobwatch writes none. */
  ownTelemetry: boolean;
  sendName: string;
  createName: string;
  sendAttributes: Attributes;
  createAttributes: Attributes;
}

function queueState(queue: QueueInstance): QueueState {
  const known = (queue as { [STATE]?: QueueState })[STATE];
  if (known) return known;
  const state: QueueState = {
    native: hasNativeTelemetry(queue),
    ownTelemetry: queue.opts?.defaultJobOptions?.telemetry != null,
    sendName: spanName(OP_SEND, queue.name),
    createName: spanName(OP_CREATE, queue.name),
    sendAttributes: operationAttributes(OP_SEND, queue.name, queue.token),
    createAttributes: operationAttributes(OP_CREATE, queue.name, queue.token),
  };
  (queue as { [STATE]?: QueueState })[STATE] = state;
  return state;
}

/** One producer operation in flight: its span (if any) and the context BullMQ runs in. */
export interface Send {
  span: Span | undefined;
  runContext: Context | undefined;
  /** A batch's per-job `create` spans. */
  creates?: Span[];
}

const NATIVE_SEND: Send = { span: undefined, runContext: undefined };

/**
 * `base` with what one job adds (its name, its delay), as one object for
 * startSpan: the SDK then checks every attribute in one pass, and a sampler
 * sees them all.
 */
export function jobAttributes(
  base: Attributes,
  jobName: unknown,
  opts: JobsOptions | undefined,
): Attributes {
  const delay = opts?.delay;
  const hasDelay = typeof delay === 'number' && delay > 0;
  if (typeof jobName !== 'string') return hasDelay ? { ...base, [BULLMQ_JOB_DELAY]: delay } : base;
  return hasDelay
    ? { ...base, [BULLMQ_JOB_NAME]: jobName, [BULLMQ_JOB_DELAY]: delay }
    : { ...base, [BULLMQ_JOB_NAME]: jobName };
}

export function startSpan(
  host: Host,
  name: string,
  attributes: Attributes,
  parent: Context,
  data?: unknown,
): Span {
  const span = host.tracer.startSpan(name, { kind: SpanKind.PRODUCER, attributes }, parent);
  if (host.captureJobData && span.isRecording()) setJobData(span, host, data);
  return span;
}

/**
 * Runs `original` with `args`, around `start` and `end`, so that a failure
 * in jobwatch's own part never changes what BullMQ does: the job is added
 * exactly once, with the caller's arguments if ours could not be made.
 * `end` must accept a send without span (native telemetry, or start failed).
 * Per call (a Queue.add per request), so no async frame: the send ends in the
 * settled promise's own callbacks, and BullMQ's promise is what the caller awaits.
 */
export function aroundSend<S extends Send, A extends unknown[], R>(
  host: Host,
  key: string,
  self: unknown,
  original: (...args: A) => Promise<R>,
  args: A,
  start: () => [S, A],
  end: (send: S, result: R) => void,
): Promise<R> {
  // if jobwatch's part fails to start, the job is still added (and counted) as the caller asked;
  // try/catch as guard() does, without its closure and key string per call
  let send = NATIVE_SEND as S;
  let sendArgs = args;
  try {
    [send, sendArgs] = start();
  } catch (err) {
    ignoreInternalError(`${key}.start`, err);
  }
  let pending: Promise<R>;
  try {
    pending = send.runContext
      ? context.with(send.runContext, original, self, ...sendArgs)
      : original.apply(self, sendArgs);
  } catch (err) {
    sendFailed(host, key, send, err);
    throw err;
  }
  if (typeof pending?.then !== 'function') {
    ended(key, end, send, pending as R);
    return pending;
  }
  return pending.then(
    (result) => {
      ended(key, end, send, result);
      return result;
    },
    (err: unknown) => {
      sendFailed(host, key, send, err);
      throw err;
    },
  );
}

function ended<S extends Send, R>(
  key: string,
  end: (send: S, result: R) => void,
  send: S,
  result: R,
) {
  try {
    end(send, result);
  } catch (err) {
    ignoreInternalError(`${key}.end`, err);
  }
}

function sendFailed(host: Host, key: string, send: Send, err: unknown): void {
  guard(`${key}.end`, () => {
    for (const create of send.creates ?? []) endFailed(create, err, host);
    endFailed(send.span, err, host);
  });
}

export function wrapAdd(host: Host) {
  return (original: (...args: unknown[]) => Promise<unknown>) =>
    function add(
      this: QueueInstance,
      name: string,
      data: unknown,
      opts?: JobsOptions,
      ...rest: unknown[]
    ) {
      return aroundSend(
        host,
        'queue.add',
        this,
        original,
        [name, data, opts, ...rest],
        () => {
          const state = queueState(this);
          if (state.native) return [NATIVE_SEND, [name, data, opts, ...rest]];
          const active = lighten(context.active());
          if (host.tracingOff) {
            // a no-op span would only pass the active context on: the job carries that; and
            // with no TracerProvider no Redis command can make a span, so none is suppressed
            return [
              { span: undefined, runContext: undefined },
              [name, data, state.ownTelemetry ? opts : withContext(opts, active), ...rest],
            ];
          }
          const span = startSpan(
            host,
            state.sendName,
            jobAttributes(state.sendAttributes, name, opts),
            active,
            data,
          );
          const ctx = trace.setSpan(active, span);
          return [
            { span, runContext: internalContext(host, ctx) },
            [name, data, state.ownTelemetry ? opts : withContext(opts, ctx), ...rest],
          ];
        },
        (send, job) => {
          endSent(send.span, job as AddedJob | undefined);
          host.observers.jobsSent(this.name, name, 1);
        },
      );
    };
}

export function wrapAddBulk(host: Host) {
  return (original: (...args: unknown[]) => Promise<unknown>) =>
    function addBulk(this: QueueInstance, jobs: BulkJob[], ...rest: unknown[]) {
      return aroundSend(
        host,
        'queue.addBulk',
        this,
        original,
        [jobs, ...rest],
        (): [Send, unknown[]] => {
          const state = queueState(this);
          if (state.native || !Array.isArray(jobs))
            return [{ ...NATIVE_SEND, creates: [] }, [jobs, ...rest]];
          const active = lighten(context.active());
          if (host.tracingOff) {
            // no-op send and create spans would give every job the active context (nothing to suppress, as in add)
            return [
              { span: undefined, runContext: undefined, creates: [] },
              [batchWithContext(jobs, state, active), ...rest],
            ];
          }
          const span = startSpan(
            host,
            state.sendName,
            { ...state.sendAttributes, [MESSAGING_BATCH_MESSAGE_COUNT]: jobs.length },
            active,
          );
          const ctx = trace.setSpan(active, span);
          const runContext = internalContext(host, ctx);
          if (!host.bulkCreateSpans) {
            return [
              { span, runContext, creates: [] },
              [batchWithContext(jobs, state, ctx), ...rest],
            ];
          }
          const creates: Span[] = [];
          const copies = jobs.map((job) => {
            if (job === null || typeof job !== 'object') return job;
            const create = startSpan(
              host,
              state.createName,
              jobAttributes(state.createAttributes, job.name, job.opts),
              ctx,
              job.data,
            );
            creates.push(create);
            if (state.ownTelemetry) return job;
            return withJobOpts(job, withSpanContext(job.opts, ctx, create));
          });
          return [{ span, runContext, creates }, [copies, ...rest]];
        },
        (send, added) => {
          const results = Array.isArray(added) ? (added as AddedJob[]) : [];
          send.creates?.forEach((create, i) => {
            endSent(create, results[i]);
          });
          send.span?.end();
          countSent(host, this.name, jobs);
        },
      );
    };
}

/** The job with `opts` in a copy; the caller's own job when its options did not change. */
function withJobOpts(job: BulkJob, opts: JobsOptions | undefined): BulkJob {
  return opts === job.opts ? job : { ...job, opts };
}

/** Every job of the batch carrying `ctx`, its metadata made once; the jobs as they are with the queue's own telemetry. */
function batchWithContext(jobs: BulkJob[], state: QueueState, ctx: Context): BulkJob[] {
  const metadata = state.ownTelemetry ? undefined : metadataFor(ctx);
  return metadata === undefined ? jobs : jobs.map((job) => withJobMetadata(job, metadata));
}

function withJobMetadata(job: BulkJob, metadata: string): BulkJob {
  if (job === null || typeof job !== 'object') return job;
  return withJobOpts(job, withMetadata(job.opts, metadata));
}

/** How many jobs of each name went to each queue in one batch: one jobsSent call per pair. */
export class SentCounts {
  private readonly counts = new Map<string, Map<string, number>>();

  add(queue: string, name: string): void {
    let names = this.counts.get(queue);
    if (names === undefined) {
      names = new Map();
      this.counts.set(queue, names);
    }
    names.set(name, (names.get(name) ?? 0) + 1);
  }

  report(host: Host): void {
    for (const [queue, names] of this.counts)
      for (const [name, count] of names) host.observers.jobsSent(queue, name, count);
  }
}

function countSent(host: Host, queueName: string, jobs: BulkJob[]): void {
  const counts = new SentCounts();
  for (const job of jobs) counts.add(queueName, job?.name);
  counts.report(host);
}

interface JobTemplate {
  name?: string;
  data?: unknown;
  opts?: JobsOptions;
}

/**
 * A scheduler is a send whose jobs are created later, again and again, by
 * BullMQ itself; every one of them carries this span's context, and (with
 * processParent 'auto') each run starts its own trace linked to it.
 */
export function wrapUpsertJobScheduler(host: Host) {
  return (original: (...args: unknown[]) => Promise<unknown>) =>
    function upsertJobScheduler(
      this: QueueInstance,
      schedulerId: string,
      repeatOpts: unknown,
      template?: JobTemplate,
      ...rest: unknown[]
    ) {
      return aroundSend(
        host,
        'queue.upsertJobScheduler',
        this,
        original,
        [schedulerId, repeatOpts, template, ...rest],
        () => {
          const state = queueState(this);
          if (state.native) return [NATIVE_SEND, [schedulerId, repeatOpts, template, ...rest]];
          const active = context.active();
          const jobName = template?.name ?? schedulerId;
          const span = startSpan(
            host,
            state.sendName,
            {
              ...jobAttributes(state.sendAttributes, jobName, undefined),
              [BULLMQ_JOB_SCHEDULER_ID]: String(schedulerId),
            },
            active,
            template?.data,
          );
          const ctx = trace.setSpan(active, span);
          const opts = state.ownTelemetry ? template?.opts : withContext(template?.opts ?? {}, ctx);
          const copy = { ...template, opts };
          return [
            { span, runContext: internalContext(host, ctx) },
            [schedulerId, repeatOpts, copy, ...rest],
          ];
        },
        (send, job) => endSent(send.span, job as AddedJob | undefined),
      );
    };
}
