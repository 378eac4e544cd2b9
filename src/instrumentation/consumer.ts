// The worker side. Every processing attempt gets a `process <queue>` CONSUMER
// span (Worker.processJob covers the processor and the move to completed or
// failed). The user's processor runs with that span active and tracing on
// (Worker.callProcessJob), while BullMQ's own Redis work around it runs
// suppressed. Worker.handleFailed tells us what the processor threw; whether
// BullMQ retries is read afterwards from the job (finishedOn is set only when
// the failure was final), so no Redis command is ever added.
//
// Retries and stalls on the trace: each attempt is its own `process` span in
// the same trace (the job's metadata still names the producer), with
// bullmq.job.attempt (1, 2, …) and bullmq.job.attempts_started. A job that
// stalled (its worker died or hung) shows attempts_started greater than
// attempt on the span of the attempt that recovered it; the stalled attempt's
// own span is lost with its process, or, when the process lives on, ends
// normally when its processor returns.

import {
  type Attributes,
  type Context,
  context,
  isSpanContextValid,
  type Link,
  type Span,
  SpanKind,
  trace,
} from '@opentelemetry/api';
import { REQUEST_ID, requestIdOf } from '../http/request-id.js';
import type { AttemptOutcome, JobLike, WorkerLike } from '../lifecycle.js';
import { guard, ignoreInternalError, warnRateLimited } from '../log.js';
import { JOB_CONTEXT } from '../logs/job-context.js';
import { core } from '../otel-sdk.js';
import { errorType, processAttributes, spanName } from './attributes.js';
import { deferredFailureOf, legacyTelemetryMetadataOf } from './bullmq-versions.js';
import { setJobData } from './capture.js';
import { type Host, hasNativeTelemetry, internalContext } from './host.js';
import { LIGHT_ROOT } from './light-context.js';
import { CHAIN_DEPTH, chainDepth, contextFromMetadata } from './propagation.js';
import {
  BULLMQ_JOB_ATTEMPT,
  BULLMQ_JOB_ATTEMPTS_STARTED,
  BULLMQ_JOB_DELAY,
  BULLMQ_JOB_NAME,
  BULLMQ_JOB_OUTCOME,
  BULLMQ_JOB_PARENT_ID,
  BULLMQ_JOB_WILL_RETRY,
  MESSAGING_MESSAGE_ID,
  OP_PROCESS,
} from './semconv.js';
import { recordFailure } from './spans.js';

/** A BullMQ 5/6 Job as the worker wrappers read it. */
export interface WorkerJob extends JobLike {
  data?: unknown;
  parent?: { id?: string };
  [ATTEMPT]?: Attempt | undefined;
}

export interface PatchedWorker extends WorkerLike {
  running?: boolean;
  closing?: Promise<void> | undefined;
}

const ATTEMPT = Symbol('jobwatch.attempt');
const STATE = Symbol('jobwatch.worker');
const NO_ERROR = Symbol('none');
const COMPLETED: AttemptOutcome = Object.freeze({ status: 'completed' });

/** Built once per Worker. */
interface WorkerState {
  native: boolean;
  spanName: string;
  attributes: ReturnType<typeof processAttributes>;
  /** Whether queueUsed and the event listeners were set up. */
  announced: boolean;
}

function workerState(worker: PatchedWorker): WorkerState {
  const known = (worker as { [STATE]?: WorkerState })[STATE];
  if (known) return known;
  const workerName = worker.opts?.name || worker.name;
  const state: WorkerState = {
    native: hasNativeTelemetry(worker),
    spanName: spanName(OP_PROCESS, worker.name),
    attributes: processAttributes(worker.name, worker.id, workerName),
    announced: false,
  };
  (worker as { [STATE]?: WorkerState })[STATE] = state;
  return state;
}

/** One processing attempt of one job; hangs off the Job object BullMQ made for it. */
class Attempt {
  span: Span | undefined = undefined;
  /** Where the user's processor runs: the process span active, tracing on. */
  processorContext: Context | undefined = undefined;
  /** What the processor threw, as handed to Worker.handleFailed. */
  error: unknown = NO_ERROR;

  constructor(
    readonly startedAt: number,
    readonly finishedOnBefore: number | undefined,
  ) {}
}

/**
 * Which trace a `process` span joins. Jobs that a scheduler or BullMQ 5's
 * legacy `repeat` creates again and again all carry the metadata of the one
 * call that scheduled them: as children they would pile up in one trace that
 * never ends, so by default they start their own trace and link to it. So do
 * jobs deeper than maxChainDepth in a chain of processors enqueueing jobs.
 * One-off jobs (and retries, flows, bulk jobs) stay children: one trace then
 * runs from the request that enqueued the job through every attempt.
 */
export function linksToProducer(host: Host, job: WorkerJob, depth: number): boolean {
  const mode = host.processParent;
  if (mode === 'parent') return false;
  if (mode === 'link') return true;
  const repeats = job.repeatJobKey || job.opts?.repeatJobKey || job.opts?.repeat;
  return Boolean(repeats) || depth > host.maxChainDepth;
}

function startAttempt(host: Host, worker: PatchedWorker, job: WorkerJob): Attempt {
  const state = workerState(worker);
  const attempt = new Attempt(Date.now(), job.finishedOn);
  job[ATTEMPT] = attempt;
  host.observers.attemptStarted(worker, job, attempt.startedAt);
  if (state.native) return attempt;
  // without a span the attempt is still timed and reported, so attemptEnded always follows attemptStarted
  try {
    startSpan(host, state, job, attempt);
  } catch (err) {
    ignoreInternalError('worker.process.span', err);
  }
  return attempt;
}

function startSpan(host: Host, state: WorkerState, job: WorkerJob, attempt: Attempt): void {
  const producer = producerContext(job, job.queueName);
  // No TracerProvider and no producer context: the span would be a no-op with
  // no context to carry on, so the attempt keeps the context the worker's loop
  // runs in (no spans can be made in this process to suppress or parent).
  if (producer === undefined && host.tracingOff) return;
  const producerSpan = producer && trace.getSpanContext(producer);
  const valid = producerSpan !== undefined && isSpanContextValid(producerSpan);
  const depth = valid ? chainDepth(producer!) : 1;
  const link = valid && linksToProducer(host, job, depth);
  const base = producer ?? LIGHT_ROOT;
  const links: Link[] | undefined = link ? [{ context: producerSpan! }] : undefined;
  const span = host.tracer.startSpan(
    state.spanName,
    {
      kind: SpanKind.CONSUMER,
      attributes: jobAttributes(state.attributes, job),
      links,
      root: !valid || link,
    },
    base,
  );
  if (host.captureJobData && span.isRecording()) setJobData(span, host, job.data);
  const requestId = requestIdOf(base); // baggage from the request that enqueued it
  if (requestId !== undefined) span.setAttribute(REQUEST_ID, requestId);
  attempt.span = span;
  attempt.processorContext = trace
    .setSpan(base, span)
    .setValue(CHAIN_DEPTH, link ? 1 : depth)
    .setValue(JOB_CONTEXT, job); // for the app's log records (src/logs)
}

/** The producer's context (and baggage) from the job's metadata; malformed metadata means none. */
function producerContext(job: WorkerJob, queueName: string): Context | undefined {
  const metadata = job.opts?.telemetry?.metadata ?? legacyTelemetryMetadataOf(job);
  if (metadata === undefined) return undefined;
  try {
    const ctx = contextFromMetadata(metadata);
    if (ctx === undefined) warnBadMetadata(queueName);
    return ctx;
  } catch {
    warnBadMetadata(queueName);
    return undefined;
  }
}

function warnBadMetadata(queueName: string): void {
  warnRateLimited(
    'bad-metadata',
    `ignored unreadable trace metadata on a job in queue ${queueName}; it is processed as a new trace`,
  );
}

/** The worker's attributes and the job's, as one object for startSpan (checked in one pass, seen by samplers). */
function jobAttributes(workerAttributes: Attributes, job: WorkerJob): Attributes {
  const attributes: Attributes = { ...workerAttributes };
  if (job.id !== undefined) attributes[MESSAGING_MESSAGE_ID] = String(job.id);
  attributes[BULLMQ_JOB_NAME] = job.name;
  attributes[BULLMQ_JOB_ATTEMPT] = (job.attemptsMade || 0) + 1;
  if (typeof job.attemptsStarted === 'number')
    attributes[BULLMQ_JOB_ATTEMPTS_STARTED] = job.attemptsStarted;
  const delay = job.opts?.delay;
  if (typeof delay === 'number' && delay > 0) attributes[BULLMQ_JOB_DELAY] = delay;
  const parentId = job.parent?.id;
  if (parentId !== undefined) attributes[BULLMQ_JOB_PARENT_ID] = String(parentId);
  return attributes;
}

/**
 * Errors a processor throws to move its job on purpose (job.moveToDelayed,
 * moveToWaitingChildren, manual rate limiting): BullMQ runs the job again later.
 * They end the attempt as 'deferred' on the span, without an error status,
 * and as a retry for the observers.
 */
const DEFERRAL_ERRORS = new Set(['DelayedError', 'WaitingError', 'WaitingChildrenError']);
const RATE_LIMIT_ERROR = 'bullmq:rateLimitExceeded';

function isDeferral(err: unknown): boolean {
  const e = err as { name?: unknown; message?: unknown } | null | undefined;
  return e != null && (DEFERRAL_ERRORS.has(e.name as string) || e.message === RATE_LIMIT_ERROR);
}

/** Never throws: an internal error is logged once, the job goes on as BullMQ decides. */
function endAttempt(
  host: Host,
  worker: PatchedWorker,
  job: WorkerJob,
  attempt: Attempt,
  thrown: unknown,
): void {
  try {
    job[ATTEMPT] = undefined;
    // BullMQ before 5.53.3 fails a deferredFailure job inside processJob, unseen (bullmq-versions.ts)
    if (attempt.error === NO_ERROR) attempt.error = deferredFailureOf(job) ?? NO_ERROR;
    const durationMs = Date.now() - attempt.startedAt;
    const outcome = outcomeOf(job, attempt, thrown);
    if (attempt.span !== undefined) endSpan(host, attempt.span, attempt, outcome, thrown);
    host.observers.attemptEnded(worker, job, outcome, durationMs);
  } catch (err) {
    ignoreInternalError('worker.process.end', err);
  }
}

function endSpan(
  host: Host,
  span: Span,
  attempt: Attempt,
  outcome: AttemptOutcome,
  thrown: unknown,
): void {
  if (outcome === COMPLETED) {
    span.setAttribute(BULLMQ_JOB_OUTCOME, 'completed');
  } else if (isDeferral(attempt.error)) {
    span.setAttribute(BULLMQ_JOB_OUTCOME, 'deferred');
  } else {
    span.setAttribute(BULLMQ_JOB_OUTCOME, outcome.status);
    span.setAttribute(BULLMQ_JOB_WILL_RETRY, outcome.status === 'retry');
    recordFailure(span, attempt.error === NO_ERROR ? thrown : attempt.error, host);
  }
  span.end();
}

/**
 * completed: the processor returned. failed: it threw and BullMQ moved the
 * job to failed (finishedOn newly set). retry: it threw and the job goes back
 * to wait or delayed, or BullMQ could not record the outcome (the job then
 * stalls and is retried).
 */
function outcomeOf(job: WorkerJob, attempt: Attempt, thrown: unknown): AttemptOutcome {
  const err = attempt.error !== NO_ERROR ? attempt.error : thrown;
  if (err === NO_ERROR) return COMPLETED;
  const final =
    attempt.error !== NO_ERROR &&
    !isDeferral(err) &&
    typeof job.finishedOn === 'number' &&
    job.finishedOn !== attempt.finishedOnBefore;
  return { status: final ? 'failed' : 'retry', errorType: errorType(err) };
}

/** (job, token, fetchNext) and, before 5.63, jobsInProgress: the rest passes through as BullMQ sent it. */
type ProcessJob = (this: PatchedWorker, job: WorkerJob, ...rest: unknown[]) => Promise<unknown>;

export function wrapProcessJob(host: Host) {
  return (original: ProcessJob) =>
    // per job, so no async frame, rest array or guard() closure: the attempt
    // ends in the settled promise's own callbacks, with every argument forwarded as it came
    function processJob(this: PatchedWorker, job: WorkerJob): Promise<unknown> {
      // biome-ignore lint/complexity/noArguments: forwards every argument, without an array per job
      const args = arguments as unknown as Parameters<ProcessJob>;
      let attempt: Attempt;
      try {
        attempt = startAttempt(host, this, job);
      } catch (err) {
        ignoreInternalError('worker.process.start', err);
        return original.apply(this, args);
      }
      let pending: Promise<unknown>;
      try {
        const ctx = runContext(host, attempt);
        pending = ctx ? context.with(ctx, original, this, ...args) : original.apply(this, args);
      } catch (err) {
        endAttempt(host, this, job, attempt, err);
        throw err;
      }
      if (typeof pending?.then !== 'function') {
        endAttempt(host, this, job, attempt, NO_ERROR);
        return pending;
      }
      return pending.then(
        (value) => {
          endAttempt(host, this, job, attempt, NO_ERROR);
          return value;
        },
        (err: unknown) => {
          endAttempt(host, this, job, attempt, err);
          throw err;
        },
      );
    };
}

/**
 * The context BullMQ's own work for the attempt runs in, when it is not the
 * one it already runs in: the worker's loop is suppressed already (wrapRun),
 * so only traceRedis (BullMQ's Redis spans under the process span) or a
 * processJob called from outside that loop needs one.
 */
function runContext(host: Host, attempt: Attempt): Context | undefined {
  const ctx = attempt.processorContext;
  if (ctx === undefined) return undefined;
  if (!host.traceRedis && core.isTracingSuppressed(context.active())) return undefined;
  return internalContext(host, ctx);
}

type CallProcessJob = (this: unknown, job: WorkerJob, ...rest: unknown[]) => unknown;

/**
 * Runs the user's processor inside the process span, with tracing on. With
 * `captureErrors` (BullMQ without a handleFailed method, see
 * bullmq-versions.ts) it also remembers what the processor threw.
 */
export function wrapCallProcessJob(captureErrors: boolean) {
  return (original: CallProcessJob) =>
    function callProcessJob(this: unknown, job: WorkerJob, ...rest: unknown[]) {
      const attempt = job?.[ATTEMPT];
      const ctx = attempt?.processorContext;
      // per job: no closure unless errors are to be remembered
      if (!captureErrors || attempt === undefined) return callIn(ctx, original, this, job, rest);
      return rememberError(attempt, () => callIn(ctx, original, this, job, rest));
    };
}

function callIn(
  ctx: Context | undefined,
  original: CallProcessJob,
  self: unknown,
  job: WorkerJob,
  rest: unknown[],
): unknown {
  return ctx === undefined
    ? original.call(self, job, ...rest)
    : context.with(ctx, original, self, job, ...rest);
}

/** The processor's result as it was; a throw or rejection is kept on the attempt first. */
function rememberError(attempt: Attempt, call: () => unknown): unknown {
  const remember = (err: unknown) => {
    attempt.error = err;
    throw err;
  };
  let result: unknown;
  try {
    result = call();
  } catch (err) {
    remember(err);
  }
  return result instanceof Promise ? result.catch(remember) : result;
}

/** The context the processor of the job's current attempt runs in (for a sandboxed processor's child). */
export function processorContextOf(job: object): Context | undefined {
  return (job as WorkerJob)[ATTEMPT]?.processorContext;
}

/**
 * The trace an event about `job` belongs to: its attempt's, or before the
 * attempt starts (BullMQ emits 'active' just before processing) its producer's.
 */
export function jobTraceContextOf(job: object): Context | undefined {
  const worker = job as WorkerJob;
  return worker[ATTEMPT]?.processorContext ?? producerContext(worker, worker.queueName);
}

type HandleFailed = (this: unknown, err: unknown, job: WorkerJob, ...rest: unknown[]) => unknown;

/** Remembers what the processor threw; BullMQ then decides retry or final as always. */
export function wrapHandleFailed() {
  return (original: HandleFailed) =>
    function handleFailed(this: unknown, err: unknown, job: WorkerJob, ...rest: unknown[]) {
      const attempt = job?.[ATTEMPT];
      if (attempt !== undefined) attempt.error = err;
      return original.call(this, err, job, ...rest);
    };
}

/**
 * Worker.run: the worker's main loop (fetching jobs, renewing locks, checking
 * for stalls) runs suppressed. The first run announces the worker to the
 * observers and subscribes to its close and stall events.
 */
export function wrapRun(host: Host) {
  return (original: (this: PatchedWorker, ...args: unknown[]) => Promise<void>) =>
    function run(this: PatchedWorker, ...args: unknown[]) {
      const state = guard('worker.run', () => {
        const s = workerState(this);
        if (!this.running && !this.closing) announce(host, this, s);
        return s;
      });
      if (state === undefined || state.native || host.traceRedis) return original.apply(this, args);
      return context.with(internalContext(host, context.active()), original, this, ...args);
    };
}

function announce(host: Host, worker: PatchedWorker, state: WorkerState): void {
  if (!state.announced) {
    state.announced = true;
    host.observers.queueUsed(worker, 'worker');
    worker.on('closed', () => host.observers.workerClosed(worker));
    worker.on('stalled', (jobId: string) => host.observers.jobStalled(worker, jobId));
  }
  host.observers.workerStarted(worker);
}
