// The parts jobwatch runs in a process beside the SDK, wired together and
// owned here: one set of backends (jobwatch's own connections among them),
// worker health, the metrics built on the lifecycle hooks, and the health
// endpoints. Everything opened here is closed here, once, at shutdown.

import { createNoopMeter, type Meter } from '@opentelemetry/api';
import { Backends } from '../backends/router.js';
import type { JobwatchConfig } from '../config.js';
import { createHealth, type HealthOptions, healthObserver } from '../health/index.js';
import type { LifecycleObserver } from '../lifecycle.js';
import { jobMetrics } from '../metrics/index.js';
import { QueueDepth } from '../metrics/queue-depth.js';
import type { SeriesProducer } from '../metrics/series-producer.js';
import { registerWorkerGauges } from '../metrics/worker-gauges.js';
import { startHealthEndpoints } from '../server/health-server.js';

export interface RuntimeParts {
  config: JobwatchConfig;
  instrumentation: { addObserver(observer: LifecycleObserver): void };
  meter: Meter;
  /** Gauges produced fresh per collection (no stale series); absent when the app brought its own SDK. */
  series: SeriesProducer | undefined;
  /** Registers a step to run once when the process ends (bounded in time). */
  onShutdown(fn: () => Promise<void> | void): void;
}

/** Starts worker health, metrics and the health endpoints; they stop when the process ends. */
export function startRuntime(parts: RuntimeParts, options: HealthOptions = {}): void {
  const { config, instrumentation, meter, series } = parts;
  const backends = Backends.fromConfig(config);
  const health = createHealth(config, { ...options, backends });
  health.start();
  instrumentation.addObserver(healthObserver(health));
  instrumentation.addObserver(jobMetrics(meter, series, config));
  registerWorkerGauges(meter, series, health.view, health.writer.errors);
  // Queue depth serves the gauge and /health/queues; the gauge only when JOBWATCH_QUEUE_DEPTH is on.
  const depth = config.queueDepth
    ? new QueueDepth(meter, backends, config, series)
    : new QueueDepth(createNoopMeter(), backends, config);
  instrumentation.addObserver(depth);
  const endpoints = startHealthEndpoints(config, {
    health,
    queueCounts: () => depth.counts(),
    readiness: (timeoutMs) => backends.readiness(timeoutMs),
  });
  parts.onShutdown(async () => {
    await health.stop('stopped: the process is exiting (signal or end of program)');
    await endpoints?.close();
    await backends.close();
  });
}
