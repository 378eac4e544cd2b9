// Worker health for one process: the heartbeat writer fed by the lifecycle
// hooks, and the registry view (self-report, and the fleet view while this
// process holds the lease), on the backends the runtime hands over. The worker
// gauges (src/metrics) and the health endpoints (src/server) are built on it;
// it knows nothing of them.

import { Backends } from '../backends/router.js';
import type { JobwatchConfig } from '../config.js';
import type { LifecycleObserver } from '../lifecycle.js';
import { logInfo } from '../log.js';
import { effectiveRetentionMs, MIN_ZERO_VISIBLE_MS } from '../registry/liveness.js';
import { LifecycleEvents, logsExported } from './events.js';
import { HeartbeatWriter } from './heartbeat.js';
import { RegistryView } from './view/view.js';
import { setTaskHost } from './watch.js';

export interface Health {
  backends: Backends;
  writer: HeartbeatWriter;
  view: RegistryView;
  /** Starts beating and taking part in the lease, and hosts watch()ed loops. */
  start(): void;
  /** Marks every instance stopped (bounded) and gives up the lease. */
  stop(reason: string): Promise<void>;
}

export interface HealthOptions {
  /** `jobwatch monitor`: claims the fleet-view lease over any process. */
  monitor?: boolean;
  /** The process's backends (they stay open at stop()); else health opens, and closes, its own. */
  backends?: Backends;
}

export function createHealth(config: JobwatchConfig, options: HealthOptions = {}): Health {
  const backends = options.backends ?? Backends.fromConfig(config);
  const writer = new HeartbeatWriter(
    {
      intervalMs: config.heartbeatIntervalMs,
      stuckJobMs: config.stuckJobMs,
      hungCommandMs: config.hungCommandMs,
      retentionMs: retention(config),
      timeoutMs: Math.max(config.collectTimeoutMs, 2000),
    },
    backends,
  );
  const view = new RegistryView(backends, writer, {
    readRegistry: config.registryView,
    // News (a stop, a new or revived instance) arrives at most once per beat:
    // reading more often is waste, caching longer would delay a clean stop's 0.
    cacheMs: Math.min(config.collectCacheMs, config.heartbeatIntervalMs),
    timeoutMs: config.collectTimeoutMs,
    intervalMs: config.heartbeatIntervalMs,
    monitor: options.monitor ?? false,
  });
  // State changes as log records, from the fleet view's holder, when logs go anywhere.
  const events = logsExported() ? new LifecycleEvents(view, config.heartbeatIntervalMs) : undefined;
  return {
    backends,
    writer,
    view,
    start() {
      writer.start();
      view.start();
      events?.start();
      setTaskHost({
        defaultIntervalMs: config.heartbeatIntervalMs,
        addTask: (task) => writer.addTask(task),
        stopTask: (task, reason) => writer.stop(task, reason),
      });
    },
    async stop(reason) {
      setTaskHost(undefined);
      events?.close();
      await writer.stopAll(reason);
      writer.close();
      await view.close();
      if (!options.backends) await backends.close();
    },
  };
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

/** The lifecycle hooks that feed the writer. */
export function healthObserver(health: Health): LifecycleObserver {
  const { writer, backends } = health;
  return {
    queueUsed: (user) => backends.adopt(user),
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
