// `jobwatch monitor`: the registry view as a standalone exporter, for setups
// where no other process is a view (only workers, or workers on a platform
// that cannot scrape them). It is the preload's own machinery in a process
// with no workers: worker_status from the registry, queue depth for --queue,
// on /metrics (OTEL_METRICS_EXPORTER applies, e.g. otlp to push instead).

import { logInfo } from '../log.js';
import { withoutCredentials } from '../url.js';
import type { CliOptions } from './options.js';

export async function runMonitor(options: CliOptions): Promise<number> {
  // A monitor has no traces to send.
  process.env.OTEL_TRACES_EXPORTER ??= 'none';
  const base = options.config;
  const { startJobwatch } = require('../preload/sdk.js') as typeof import('../preload/sdk.js');
  startJobwatch(
    {
      ...base,
      enabled: true,
      redisUrl: options.redis,
      postgresUrl: options.postgres,
      queuePrefix: options.prefix,
      queues: [...new Set([...base.queues, ...options.queues])],
      registryView: true,
      prometheusPort: options.port ?? base.prometheusPort,
    },
    { monitor: true },
  );
  // It runs until stopped, whatever holds (or does not hold) its event loop.
  setInterval(() => undefined, 2 ** 30);
  logInfo(
    `monitor: reading the worker registry of ${[options.redis && `${withoutCredentials(options.redis)} (prefix ${options.prefix})`, options.postgres && 'the PostgreSQL database'].filter(Boolean).join(' and ')}; metrics per OTEL_METRICS_EXPORTER (${base.metricsExporters.join(',')})`,
  );
  return -1;
}
