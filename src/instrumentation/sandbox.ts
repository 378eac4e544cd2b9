// Sandboxed processors: a Worker given a processor FILE runs it in a child
// process (or a worker thread with useWorkerThreads), each job sent over as
// `job.asJSONSandbox()`. Both ends run jobwatch: the child inherits the
// preload through BullMQ's `execArgv: process.execArgv` (and NODE_OPTIONS).
//
// Parent: the job's message gets one extra field, the context of the
// attempt's `process` span in the format of the telemetry metadata. It lives
// only in that in-memory message: job.data and job.opts, and so Redis, are
// untouched.
// Child: BullMQ's ChildProcessor.start runs the user's processor inside that
// context (the field itself removed first, so the processor sees exactly
// what BullMQ sent), and the child flushes its spans before BullMQ ends it.
//
// The parent's Worker stays the one registered worker: heartbeats, status,
// metrics and the `process` span are all the parent's, as for any processor.

import { type Context, context } from '@opentelemetry/api';
import { guard } from '../log.js';
import { flushProviders } from './flush-on-close.js';
import { CHAIN_DEPTH, chainDepth, contextFromMetadata, metadataFor } from './propagation.js';

const CONTEXT_FIELD = 'jobwatchContext';

type JobJson = Record<string, unknown>;

/** Parent side: Job.asJSONSandbox adds the process span's context for the child. */
export function wrapAsJSONSandbox(processorContext: (job: object) => Context | undefined) {
  return (original: (this: object, ...args: unknown[]) => JobJson) =>
    function asJSONSandbox(this: object, ...args: unknown[]) {
      const json = original.apply(this, args);
      const metadata = guard('sandbox.send', () => {
        const ctx = processorContext(this);
        return ctx && json !== null && typeof json === 'object' ? metadataFor(ctx) : undefined;
      });
      return metadata === undefined ? json : { ...json, [CONTEXT_FIELD]: metadata };
    };
}

/**
 * The context the child runs the processor in. metadataFor wrote the depth
 * a job enqueued from the processor would have; the processor's own is one less.
 */
function childContext(metadata: unknown): Context | undefined {
  const ctx = contextFromMetadata(metadata);
  return ctx?.setValue(CHAIN_DEPTH, chainDepth(ctx) - 1);
}

type Start = (this: unknown, job: JobJson, ...rest: unknown[]) => unknown;

/** Child side: ChildProcessor.start runs the processor inside the parent's process span. */
export function wrapChildStart() {
  return (original: Start) =>
    function start(this: unknown, job: JobJson, ...rest: unknown[]) {
      if (job === null || typeof job !== 'object' || !(CONTEXT_FIELD in job))
        return original.call(this, job, ...rest);
      const { [CONTEXT_FIELD]: metadata, ...sent } = job;
      const ctx = guard('sandbox.start', () => childContext(metadata));
      return ctx
        ? context.with(ctx, original, this, sent, ...rest)
        : original.call(this, sent, ...rest);
    };
}

interface ChildProcessor {
  currentJobPromise?: Promise<unknown>;
}

/**
 * Child side: BullMQ ends the child (on the pool's SIGTERM, or a worker
 * thread's stop message) with process.exit once the current job is done;
 * the job's spans are flushed (bounded) before that exit.
 */
export function wrapWaitForCurrentJobAndExit() {
  return (original: (this: ChildProcessor, ...args: unknown[]) => Promise<void>) =>
    function waitForCurrentJobAndExit(this: ChildProcessor, ...args: unknown[]) {
      guard('sandbox.exit', () => {
        this.currentJobPromise = Promise.resolve(this.currentJobPromise)
          .catch(() => undefined)
          .then(flushProviders);
      });
      return original.apply(this, args);
    };
}
