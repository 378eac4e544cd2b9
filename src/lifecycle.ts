// The one seam between the patching (src/instrumentation) and what is built
// on the facts it observes (src/metrics, src/health). The instrumentation
// calls these hooks; it knows nothing of metrics or heartbeats, and they know
// nothing of patching. Hooks run on BullMQ's hot path: they must be cheap,
// synchronous, and never throw (the caller guards them anyway).

/** The parts of a BullMQ Job (5.x and 6.x) that jobwatch reads. */
export interface JobLike {
  id?: string | undefined;
  name: string;
  queueName: string;
  timestamp: number;
  processedOn?: number | undefined;
  finishedOn?: number | undefined;
  attemptsMade: number;
  attemptsStarted?: number;
  delay?: number;
  opts: {
    attempts?: number;
    delay?: number;
    repeatJobKey?: string;
    telemetry?: { metadata?: string; omitContext?: boolean };
    [key: string]: unknown;
  };
  repeatJobKey?: string | undefined;
}

/** The parts of a BullMQ Worker (5.x and 6.x) that jobwatch reads. */
export interface WorkerLike {
  id: string;
  name: string;
  opts: {
    name?: string;
    prefix?: string;
    connection?: unknown;
    concurrency?: number;
    [key: string]: unknown;
  };
  isRunning(): boolean;
  isPaused(): boolean;
  closing?: Promise<void> | undefined;
  on(event: string, listener: (...args: any[]) => void): unknown;
  off(event: string, listener: (...args: any[]) => void): unknown;
  /** Resolves to the worker's Redis client (ioredis) on the Redis backend. */
  client?: Promise<unknown>;
}

/** A Queue, Worker, FlowProducer or QueueEvents: anything that names a queue and a connection. */
export interface QueueUserLike {
  name: string;
  opts: { prefix?: string; connection?: unknown; [key: string]: unknown };
  client?: Promise<unknown>;
}

export type AttemptOutcome =
  /** the processor returned and the job moved to completed */
  | { status: 'completed' }
  /** the processor threw; BullMQ will try the job again */
  | { status: 'retry'; errorType: string }
  /** the processor threw and this was the last attempt (or the error was unrecoverable) */
  | { status: 'failed'; errorType: string };

export interface LifecycleObserver {
  /** A Queue, Worker or FlowProducer in this process uses this queue. Called once per instance. */
  queueUsed?(user: QueueUserLike, kind: 'queue' | 'worker' | 'flow'): void;
  /** A Worker started running (its main loop began). */
  workerStarted?(worker: WorkerLike): void;
  /** A Worker was closed (gracefully) or its loop ended. */
  workerClosed?(worker: WorkerLike): void;
  /** `count` jobs named `jobName` were added to `queueName` (1 for add, one call per queue+name for bulks and flows). */
  jobsSent?(queueName: string, jobName: string, count: number): void;
  /** A processing attempt began. `startedAt` is Date.now() at processor start. */
  attemptStarted?(worker: WorkerLike, job: JobLike, startedAt: number): void;
  /** A processing attempt ended. `durationMs` covers the processor and the move to completed/failed. */
  attemptEnded?(
    worker: WorkerLike,
    job: JobLike,
    outcome: AttemptOutcome,
    durationMs: number,
  ): void;
  /** The worker's stall checker moved a job back to wait (or failed it). */
  jobStalled?(worker: WorkerLike, jobId: string): void;
}
