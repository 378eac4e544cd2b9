// What `check` and `status` read: the registry (through the same view and
// liveness rule as worker_status) and the depth of the queues involved,
// narrowed by --worker / --queue / --this-host, as one health report.

import { hostname } from 'node:os';
import { createNoopMeter } from '@opentelemetry/api';
import { Backends } from '../backends/router.js';
import { createHealth } from '../health/index.js';
import { buildReport, type HealthReport } from '../health/report.js';
import type { RegistrySnapshot } from '../health/view/view.js';
import { QueueDepth } from '../metrics/queue-depth.js';
import type { CliOptions } from './options.js';

export interface HealthRead {
  report: HealthReport;
  snapshot: RegistrySnapshot;
  close(): Promise<void>;
}

export async function readHealth(options: CliOptions): Promise<HealthRead> {
  const base = options.config;
  const config = {
    ...base,
    registryView: true,
    collectTimeoutMs: Math.min(base.collectTimeoutMs, options.timeoutMs),
  };
  const backends = new Backends({
    redisUrl: options.redis,
    redisUrlSetting: '--redis',
    prefix: options.prefix,
    postgresUrl: options.postgres,
    connectTimeoutMs: config.collectTimeoutMs,
    stuckAfterMs: options.timeoutMs,
    holdsProcess: true,
  });
  const health = createHealth(config, { backends });
  const all = await health.view.snapshot('fleet');
  const snapshot = narrow(all, options);
  const queues = new Set(options.queues);
  for (const group of snapshot.workers) if (group.queue) queues.add(group.queue);
  const counts = new QueueDepth(createNoopMeter(), backends, {
    queuePrefix: options.prefix,
    // Queue depth is read from Redis; on PostgreSQL only a process using the queues reports it.
    queues: options.redis ? [...queues] : [],
    collectCacheMs: 0,
    collectTimeoutMs: config.collectTimeoutMs,
  });
  const report = buildReport(snapshot, reachable(snapshot) ? await counts.counts() : {});
  const selected = options.workers.length > 0 || options.queues.length > 0 || options.thisHost;
  if (selected && snapshot.workers.length === 0 && all.workers.length > 0) {
    report.status = 'unknown';
    report.reason = `no worker in ${snapshot.stores.map((s) => s.registry).join(', ')} matches the selection`;
  }
  return {
    report,
    snapshot,
    close: async () => {
      await health.stop('cli done');
      await backends.close();
    },
  };
}

function reachable(snapshot: RegistrySnapshot): boolean {
  return (
    snapshot.storeReachable && snapshot.stores.length > 0 && snapshot.stores.every((s) => s.ok)
  );
}

function narrow(snapshot: RegistrySnapshot, options: CliOptions): RegistrySnapshot {
  const host = hostname();
  const workers = snapshot.workers
    .filter((g) => options.workers.length === 0 || options.workers.includes(g.name))
    .filter((g) => options.queues.length === 0 || options.queues.includes(g.queue))
    .flatMap((g) => {
      if (!options.thisHost) return [g];
      const instances = g.instances.filter((i) => i.host === host);
      if (instances.length === 0) return [];
      return [{ ...g, instances, alive: instances.some((i) => i.verdict.alive) }];
    });
  return { ...snapshot, workers, instances: workers.flatMap((g) => g.instances) };
}
