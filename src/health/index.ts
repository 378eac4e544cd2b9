// Worker health for one process: the heartbeat writer fed by the lifecycle
// hooks, the registry view (self-report, and the fleet view while this process
// holds the lease) behind the worker gauges. The health endpoints (src/server)
// are built on it; it knows nothing of them.

import type { JobwatchConfig } from '../config.js';
import type { LifecycleObserver } from '../lifecycle.js';
import { logInfo } from '../log.js';
import { PostgresHealth } from '../postgres/health.js';
import { Connections } from '../redis/connections.js';
import { parseTarget } from '../redis/owned.js';
import type { JobwatchRuntime } from '../runtime.js';
import { registerWorkerGauges } from './gauges.js';
import { HeartbeatWriter } from './heartbeat.js';
import { effectiveRetentionMs, MIN_ZERO_VISIBLE_MS } from './registry/keys.js';
import { RegistryView } from './registry/view.js';
import { setTaskHost } from './watch.js';

export interface Health {
  connections: Connections;
  writer: HeartbeatWriter;
  view: RegistryView;
  /** Runs `fn` when health stops, before its connections close (e.g. the health endpoints). */
  onStop(fn: () => Promise<void>): void;
  stop(reason: string): Promise<void>;
}

export interface HealthOptions {
  /** `jobwatch monitor`: claims the fleet-view lease over any process. */
  monitor?: boolean;
}

export function createHealth(config: JobwatchConfig, options: HealthOptions = {}): Health {
  const connections = new Connections({
    target: config.redisUrl === undefined ? undefined : parseTarget(config.redisUrl),
    prefix: config.queuePrefix,
    connectTimeoutMs: config.collectTimeoutMs,
    label: 'JOBWATCH_REDIS_URL',
  });
  const postgres = new PostgresHealth(config.postgresUrl, config.collectTimeoutMs);
  connections.onUser((user) => postgres.learn(user));
  const writer = new HeartbeatWriter(
    {
      intervalMs: config.heartbeatIntervalMs,
      stuckJobMs: config.stuckJobMs,
      retentionMs: retention(config),
      timeoutMs: Math.max(config.collectTimeoutMs, 2000),
    },
    connections,
    postgres,
  );
  const view = new RegistryView(
    connections,
    writer,
    {
      readRegistry: config.registryView,
      // News (a stop, a new or revived instance) arrives at most once per beat:
      // reading more often is waste, caching longer would delay a clean stop's 0.
      cacheMs: Math.min(config.collectCacheMs, config.heartbeatIntervalMs),
      timeoutMs: config.collectTimeoutMs,
      intervalMs: config.heartbeatIntervalMs,
      monitor: options.monitor ?? false,
    },
    postgres,
  );
  const stops: (() => Promise<void>)[] = [];
  const health: Health = {
    connections,
    writer,
    view,
    onStop: (fn) => stops.push(fn),
    async stop(reason) {
      setTaskHost(undefined);
      await writer.stopAll(reason);
      writer.close();
      await view.close();
      for (const fn of stops) await fn();
      await connections.close();
      await postgres.close();
    },
  };
  return health;
}

function retention(config: JobwatchConfig): number {
  const ms = effectiveRetentionMs(config.registryRetentionMs, config.heartbeatIntervalMs);
  if (ms > config.registryRetentionMs) {
    logInfo(
      `JOBWATCH_REGISTRY_RETENTION_MS=${config.registryRetentionMs} is raised to ${ms}: a dead worker's 0 stays exported at least ${MIN_ZERO_VISIBLE_MS / 60_000} min, so down alerts can fire`,
    );
  }
  return ms;
}

export function healthObserver(health: Health): LifecycleObserver {
  const { writer, connections } = health;
  return {
    queueUsed: (user) => connections.addUser(user),
    workerStarted: (worker) => void writer.addWorker(worker),
    workerClosed: (worker) => {
      const instance = writer.workerOf(worker);
      if (instance) void writer.stop(instance, 'stopped cleanly (worker.close())');
    },
    attemptStarted: (worker, job, startedAt) =>
      writer.addWorker(worker).attemptStarted(job, startedAt),
    attemptEnded: (worker, job, outcome) =>
      writer.workerOf(worker)?.attemptEnded(job, outcome.status !== 'completed'),
    jobStalled: (worker) => {
      const instance = writer.workerOf(worker);
      if (instance) instance.stalled++;
    },
  };
}

/** Starts worker health in this process (the health endpoints are started beside it, by src/server). */
export function startHealth(runtime: JobwatchRuntime, options: HealthOptions = {}): Health {
  const { config } = runtime;
  const health = createHealth(config, options);
  health.writer.start();
  health.view.start();
  setTaskHost({
    defaultIntervalMs: config.heartbeatIntervalMs,
    addTask: (task) => health.writer.addTask(task),
    stopTask: (task, reason) => health.writer.stop(task, reason),
  });
  runtime.instrumentation.addObserver(healthObserver(health));
  registerWorkerGauges(runtime, health.view, health.writer.errors);
  runtime.onShutdown(() =>
    health.stop('stopped: the process is exiting (signal or end of program)'),
  );
  return health;
}
