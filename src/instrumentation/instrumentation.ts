// BullMQInstrumentation: OpenTelemetry tracing for BullMQ 5 and 6, in the
// style of the opentelemetry-js-contrib instrumentations. It patches the
// prototypes of the classes the `bullmq` module exports (so CommonJS through
// require-in-the-middle and ESM through import-in-the-middle both work) and
// unpatches them on disable. What it patches, and why there:
//
//   Queue.add / addBulk / upsertJobScheduler   send (+ create) spans, trace metadata
//   FlowProducer.add / addBulk                 send + create spans for flows
//   Worker.processJob                          one process span per attempt
//   Worker.callProcessJob                      the processor runs inside that span
//   Worker.handleFailed                        what the processor threw (from 5.53.3; before,
//                                              callProcessJob's rejection: see bullmq-versions.ts)
//   Worker.run, QueueEvents.run                BullMQ's loops run with tracing suppressed
//   Worker.waitForJob / moveToActive / delay,  what the fetch loop awaits, for the hang rule
//     Job.moveToCompleted / moveToFailed       (fetch-loop.ts)
//   Worker/Queue/QueueEvents.emit              ...but the app's listeners run unsuppressed (listeners.ts)
//   Job.log                                    a line as an event on the attempt's span (opt-in)
//   Job.asJSONSandbox, ChildProcessor.start    a sandboxed processor's spans join the process span
//     and .waitForCurrentJobAndExit            (see sandbox.ts)
//   QueueBase.createBackend (6) / createScripts, setScripts or waitUntilReady (5),
//   RedisConnection.init                       connection setup suppressed; queues announced
//
// BullMQ 6's Job.create goes through backend.addJob, so nothing here hooks
// Job.addJob (instrumentations that do see nothing on 6). On BullMQ 5, legacy
// `repeat` jobs are added through Queue.add and covered there.

import { context, ProxyTracer, ProxyTracerProvider, trace } from '@opentelemetry/api';
import { recordModuleVersion } from '../bullmq-objects.js';
import { DEFAULT_CONFIG } from '../config.js';
import type { LifecycleObserver } from '../lifecycle.js';
import { guard } from '../log.js';
import {
  InstrumentationBase,
  InstrumentationNodeModuleDefinition,
  InstrumentationNodeModuleFile,
  isWrapped,
} from '../otel-sdk.js';
import { VERSION } from '../version.js';
import {
  constructionHook,
  hasFailedHook,
  reportUnsupported,
  SUPPORTED_RANGE,
} from './bullmq-versions.js';
import {
  jobTraceContextOf,
  processorContextOf,
  wrapCallProcessJob,
  wrapHandleFailed,
  wrapProcessJob,
  wrapRun,
} from './consumer.js';
import { wrapDelay, wrapJobMove, wrapMoveToActive, wrapWaitForJob } from './fetch-loop.js';
import { wrapFlowAdd, wrapFlowAddBulk } from './flows.js';
import { wrapClose } from './flush-on-close.js';
import { type Host, internalContext } from './host.js';
import { wrapJobLog } from './job-log.js';
import { wrapEmit } from './listeners.js';
import { Observers } from './observers.js';
import { wrapAdd, wrapAddBulk, wrapUpsertJobScheduler } from './producer.js';
import { wrapAsJSONSandbox, wrapChildStart, wrapWaitForCurrentJobAndExit } from './sandbox.js';
import type { BullMQInstrumentationConfig, ProcessParent } from './types.js';

type Method = (this: any, ...args: any[]) => any;
type Prototype = Record<string, Method>;
type Wrapper = (original: any) => Method;
type PatchList = [Prototype | undefined, string, Wrapper][];

interface BullMQExports {
  Job?: { prototype: Prototype };
  Queue?: { prototype: Prototype };
  QueueBase?: { prototype: Prototype };
  QueueEvents?: { prototype: Prototype };
  Worker?: { prototype: Prototype };
  FlowProducer?: { prototype: Prototype };
  RedisConnection?: { prototype: Prototype };
}

interface ChildProcessorExports {
  ChildProcessor?: { prototype: Prototype };
}

/** In a sandbox child: the processor runs in the parent's process span; spans are flushed before BullMQ exits. */
function childPatchList(exports: ChildProcessorExports): PatchList {
  const child = exports.ChildProcessor?.prototype;
  return [
    [child, 'start', wrapChildStart()],
    [child, 'waitForCurrentJobAndExit', wrapWaitForCurrentJobAndExit()],
  ];
}

const ANNOUNCED = Symbol('jobwatch.announced');
const VERSIONS = [SUPPORTED_RANGE];
/**
 * A sandbox child loads only this file of BullMQ (from its main.js or
 * main-worker.js), never the index. Node always runs the CommonJS build:
 * BullMQ has no exports map, and its ES module build cannot start a sandbox
 * in Node (it reads `module.filename`).
 */
const CHILD_PROCESSOR_FILE = 'bullmq/dist/cjs/classes/child-processor.js';
/** What the API's proxy provider delegates to while no TracerProvider is registered (one shared no-op). */
const NO_TRACER_PROVIDER = new ProxyTracerProvider().getDelegate();

export class BullMQInstrumentation
  extends InstrumentationBase<BullMQInstrumentationConfig>
  implements Host
{
  readonly observers = new Observers();

  constructor(config: BullMQInstrumentationConfig = {}) {
    super('jobwatch-bullmq', VERSION, config);
  }

  /** Metrics and health observe jobs through these hooks (see src/lifecycle.ts). */
  addObserver(observer: LifecycleObserver): void {
    this.observers.add(observer);
  }

  removeObserver(observer: LifecycleObserver): void {
    this.observers.remove(observer);
  }

  override get tracer() {
    return super.tracer;
  }

  /**
   * True while our tracer is the global proxy's and no provider is registered
   * (OTEL_TRACES_EXPORTER=none, or no SDK): checked per call, so a provider
   * registered later is used at once. Anything else (an SDK tracer, another
   * copy of the API) counts as tracing on.
   */
  get tracingOff(): boolean {
    const tracer = this.tracer;
    if (!(tracer instanceof ProxyTracer)) return false;
    const global = trace.getTracerProvider() as Partial<ProxyTracerProvider>;
    return (
      (tracer as unknown as { _provider?: unknown })._provider === global &&
      global.getDelegate?.() === NO_TRACER_PROVIDER
    );
  }

  get processParent(): ProcessParent {
    return this._config.processParent ?? DEFAULT_CONFIG.processParent;
  }

  get maxChainDepth(): number {
    return this._config.maxChainDepth ?? DEFAULT_CONFIG.maxChainDepth;
  }

  get bulkCreateSpans(): boolean {
    return this._config.bulkCreateSpans ?? DEFAULT_CONFIG.bulkCreateSpans;
  }

  get traceRedis(): boolean {
    return this._config.traceRedis === true;
  }

  get captureErrorMessage(): boolean {
    return this._config.captureErrorMessage === true;
  }

  get captureJobData(): boolean {
    return this._config.captureJobData === true;
  }

  get captureMaxBytes(): number {
    return this._config.captureMaxBytes ?? DEFAULT_CONFIG.captureMaxBytes;
  }

  get captureJobLogs(): boolean {
    return this._config.captureJobLogs === true;
  }

  protected init() {
    return [this.supportedDefinition(), this.unsupportedDefinition()];
  }

  /** Any other BullMQ is left alone, with one line saying so. */
  private unsupportedDefinition() {
    return new InstrumentationNodeModuleDefinition('bullmq', ['*'], (exports, moduleVersion) => {
      guard('instrumentation.version', () => reportUnsupported(moduleVersion));
      return exports;
    });
  }

  private supportedDefinition() {
    return new InstrumentationNodeModuleDefinition(
      'bullmq',
      VERSIONS,
      (exports: BullMQExports, moduleVersion?: string) => {
        guard('instrumentation.patch', () => {
          recordModuleVersion(exports.QueueBase?.prototype, moduleVersion);
          this.patch(this.patchList(exports));
        });
        return exports;
      },
      (exports: BullMQExports) => {
        guard('instrumentation.unpatch', () => this.unpatch(this.patchList(exports)));
        return exports;
      },
      [
        new InstrumentationNodeModuleFile(
          CHILD_PROCESSOR_FILE,
          VERSIONS,
          (exports: ChildProcessorExports) => {
            guard('instrumentation.patch', () => this.patch(childPatchList(exports)));
            return exports;
          },
          (exports: ChildProcessorExports) => {
            guard('instrumentation.unpatch', () => this.unpatch(childPatchList(exports)));
            return exports;
          },
        ),
      ],
    );
  }

  private patchList(exports: BullMQExports): PatchList {
    const queue = exports.Queue?.prototype;
    const worker = exports.Worker?.prototype;
    const flow = exports.FlowProducer?.prototype;
    const base = exports.QueueBase?.prototype;
    return [
      [queue, 'add', wrapAdd(this)],
      [queue, 'addBulk', wrapAddBulk(this)],
      [queue, 'upsertJobScheduler', wrapUpsertJobScheduler(this)],
      [flow, 'add', wrapFlowAdd(this)],
      [flow, 'addBulk', wrapFlowAddBulk(this)],
      [worker, 'processJob', wrapProcessJob(this)],
      [worker, 'callProcessJob', wrapCallProcessJob(!hasFailedHook(worker))],
      [worker, 'handleFailed', wrapHandleFailed()],
      [worker, 'run', wrapRun(this)],
      // The fetch loop's calls, for the hang rule (fetch-loop.ts).
      [worker, 'waitForJob', wrapWaitForJob()],
      [worker, 'moveToActive', wrapMoveToActive()],
      [worker, 'delay', wrapDelay()],
      [exports.Job?.prototype, 'moveToCompleted', wrapJobMove('moveToCompleted')],
      [exports.Job?.prototype, 'moveToFailed', wrapJobMove('moveToFailed')],
      [worker, 'close', wrapClose()],
      [worker, 'emit', wrapEmit(this, jobTraceContextOf)],
      [exports.QueueEvents?.prototype, 'emit', wrapEmit(this, jobTraceContextOf)],
      [queue, 'emit', wrapEmit(this, jobTraceContextOf)],
      [exports.Job?.prototype, 'asJSONSandbox', wrapAsJSONSandbox(processorContextOf)],
      [exports.Job?.prototype, 'log', wrapJobLog(this)],
      [exports.QueueEvents?.prototype, 'run', this.wrapSuppressed()],
      [exports.RedisConnection?.prototype, 'init', this.wrapSuppressed()],
      // BullMQ 6 creates the connection here; BullMQ 5 only its scripts (announcing is what counts there).
      [base, constructionHook(base), this.wrapConstruction(exports)],
    ];
  }

  private patch(list: PatchList): void {
    for (const [proto, method, wrapper] of list) {
      if (proto === undefined || typeof proto[method] !== 'function') continue;
      if (isWrapped(proto[method])) this._unwrap(proto, method);
      this._wrap(proto, method, wrapper);
    }
  }

  private unpatch(list: PatchList): void {
    for (const [proto, method] of list) {
      if (proto !== undefined && isWrapped(proto[method])) this._unwrap(proto, method);
    }
  }

  /** Runs BullMQ's own background work with tracing suppressed (unless traceRedis). */
  private wrapSuppressed(): Wrapper {
    const host = this;
    return (original: Method) =>
      function suppressed(this: unknown, ...args: unknown[]) {
        if (host.traceRedis) return original.apply(this, args);
        return context.with(internalContext(host, context.active()), original, this, ...args);
      };
  }

  /**
   * A Queue announces itself to the observers when it is constructed. The call
   * is deferred to a microtask so that the constructor has finished (the
   * observers see a complete instance).
   */
  private wrapConstruction(exports: BullMQExports): Wrapper {
    const host = this;
    const suppressed = this.wrapSuppressed();
    return (original: Method) => {
      const inner = suppressed(original);
      return function construct(this: Record<symbol, unknown>, ...args: unknown[]) {
        const result = inner.apply(this, args);
        const queueClass = exports.Queue as unknown as (new () => unknown) | undefined;
        if (queueClass && this instanceof queueClass && !this[ANNOUNCED]) {
          this[ANNOUNCED] = true;
          queueMicrotask(() => host.observers.queueUsed(this as never, 'queue'));
        }
        return result;
      };
    };
  }
}
