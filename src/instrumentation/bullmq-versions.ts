// What differs between the BullMQ versions jobwatch patches (>=5.0.0 <7), read
// from the published builds of 5.0.0, 5.1.0, 5.1.12, 5.12.15, 5.15.0, 5.16.0,
// 5.20.1 … 5.25.6, 5.29.1 … 5.40.5, 5.53.0, 5.53.3, 5.63.2, 5.64.1, 5.70.4,
// 5.81.5, 6.0.0, 6.0.11 and 6.7.0. Every wrapper passes all arguments through, so a
// parameter added in a later version reaches BullMQ unchanged; what is
// patched is decided by what the prototypes have (instrumentation.ts).
//
//   method                      5.0.0 … 5.53.0          5.53.3            5.63.2            5.64.1 … 5.81.5, 6.x
//   Queue.add                   (name, data, opts)      same              same              same
//   Queue.addBulk               (jobs)                  same              same              same
//   Queue.upsertJobScheduler    absent up to 5.15.0; (id, repeatOpts, template) from 5.16.0
//   FlowProducer.add / addBulk  (flow, opts) / (flows)  same              same              same
//   Worker.processJob           (job, token, fetchNext, jobsInProgress) …  (job, token, fetchNext) from 5.63.2
//   Worker.callProcessJob       (job, token)            same              same              (job, token, signal)
//   Worker.handleFailed         a closure in processJob (err, job, token, fetchNext, span) method from 5.53.3
//   Worker.run / close          () / (force)            same              same              same
//   Job.asJSONSandbox           ()                      same              same              same
//   QueueEvents.run             ()                      same              same              same
//   RedisConnection.init        ()                      same              same              same
//   QueueBase method that every none up to 5.1.12,     setScripts        createScripts     createScripts (5.x),
//     Queue constructor calls   setScripts from 5.12.15                                     createBackend (6.x)
//   ChildProcessor.start        (jobJson, token)        same              same              same
//   ChildProcessor.waitForCurrentJobAndExit ()          same              same              same
//
// Where a hook is missing, the same information comes from elsewhere:
// - What the processor threw (before 5.53.3, no handleFailed method; the
//   closure swallows the error, so processJob resolves): the rejection of
//   Worker.callProcessJob, which calls the processor in every version. A
//   job.deferredFailure (5.53.0 … 5.53.2: BullMQ fails the job without
//   running its processor) is read from the job.
// - A Queue's construction (no QueueBase method called from the constructor
//   up to 5.1.12): Queue.waitUntilReady, which every Queue constructor calls.
// - The version a Queue or Worker was made by (the worker registry shows it;
//   RedisConnection.packageVersion only from 5.25): the version the module
//   loader read from BullMQ's package.json, kept on QueueBase.prototype.
// - BullMQ's own telemetry (5.22 on) kept a job's trace metadata in
//   opts.telemetryMetadata up to 5.33, in opts.telemetry.metadata from 5.34:
//   jobwatch's worker reads both, so a native 5.22–5.33 producer's trace
//   continues. Not the other way: a native-telemetry Worker of 5.22–5.33
//   reads only opts.telemetryMetadata, so it starts new traces for jobs that
//   jobwatch's producer sent (jobwatch writes opts.telemetry.metadata).
// Apart from that last case nothing is missing in any version: spans, metrics
// and health are the same.
// (BullMQ 6.0.0 itself needs ioredis installed by the app: its utils require
// `ioredis/built/utils` while ioredis is an optional peer.)

import { logError } from '../log.js';

type Prototype = Record<string, unknown> | undefined;

/** The BullMQ versions jobwatch patches (the package's peer range). */
export const SUPPORTED_RANGE = '>=5.0.0 <7';

const reported = new Set<string>();

/** One line per BullMQ version outside SUPPORTED_RANGE that the app loads (called for every BullMQ). */
export function reportUnsupported(version: string | undefined): void {
  const major = Number(version?.split('.')[0]);
  if (major === 5 || major === 6) return;
  const name = version ?? '(unknown version)';
  if (reported.has(name)) return;
  reported.add(name);
  logError(
    `BullMQ ${name} is not supported (jobwatch works with bullmq ${SUPPORTED_RANGE}): it is left unpatched, so its jobs get no spans, metrics or worker health`,
  );
}

/** From 5.53.3 Worker.handleFailed is a method that receives what the processor threw. */
export function hasFailedHook(worker: Prototype): boolean {
  return typeof worker?.handleFailed === 'function';
}

/** The QueueBase method called once from every Queue constructor, newest first. */
const CONSTRUCTION_HOOKS = ['createBackend', 'createScripts', 'setScripts'] as const;

/** Called by every Queue constructor in all versions (and again later, from other calls). */
const READY_HOOK = 'waitUntilReady';

/** Which QueueBase method announces a Queue (and, on 6, sets up its connection). */
export function constructionHook(base: Prototype): string {
  return CONSTRUCTION_HOOKS.find((m) => typeof base?.[m] === 'function') ?? READY_HOOK;
}

/** A job BullMQ fails without running its processor (deferredFailure, 5.53.0 on), as handleFailed would see it. */
export function deferredFailureOf(job: object): Error | undefined {
  const reason = (job as { deferredFailure?: unknown }).deferredFailure;
  if (typeof reason !== 'string') return undefined;
  const err = new Error(reason);
  err.name = 'UnrecoverableError';
  return err;
}

/** The trace metadata a native-telemetry producer of BullMQ 5.22–5.33 wrote (opts.telemetryMetadata). */
export function legacyTelemetryMetadataOf(job: { opts?: object }): string | undefined {
  const metadata = (job.opts as { telemetryMetadata?: unknown } | undefined)?.telemetryMetadata;
  return typeof metadata === 'string' ? metadata : undefined;
}
