// What the parts built on the instrumentation (metrics, health) are given by
// the preload's wiring (src/sdk.ts).

import type { Meter } from '@opentelemetry/api';
import type { JobwatchConfig } from './config.js';
import type { LifecycleObserver } from './lifecycle.js';
import type { SeriesProducer } from './metrics/series-producer.js';

export interface JobwatchRuntime {
  config: JobwatchConfig;
  instrumentation: { addObserver(observer: LifecycleObserver): void };
  meter: Meter;
  /** Gauges produced fresh per collection (no stale series); absent when the app brought its own SDK. */
  series: SeriesProducer | undefined;
  /** Registers a step to run once when the process ends (bounded in time). */
  onShutdown(fn: () => Promise<void> | void): void;
}
