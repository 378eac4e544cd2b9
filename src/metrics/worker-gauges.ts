// The worker gauges, from one registry snapshot per collection:
//   worker.status, bullmq.worker.state, bullmq.worker.active_jobs,
//     bullmq.worker.oldest_active_job.age per (registry, worker name, queue):
//     one series per worker, whatever the number of instances, pids or hosts.
//     Every process reports its own workers; the holder of the fleet-view
//     lease reports every worker in the registry. jobwatch.registry (the
//     registry's scope: store, server or database, prefix or schema) keeps two
//     environments with the same queue names apart, with no configuration.
//   bullmq.worker.state per (…, bullmq.worker.state): 1 for the worker's state
//     (the best of its instances), 0 for the others; what tells a planned stop
//     (stopped) from a crash (dead) or a hang (hung).
//   bullmq.worker.instances per (…, bullmq.worker.state): the fleet view only,
//     so a dead replica among live ones shows as dead >= 1.
// The series are produced fresh at every collection (metrics/series-producer.ts):
// a worker that leaves the view leaves /metrics at the next collection.
// And two counters: bullmq.worker.heartbeat.errors{reason}, and
// bullmq.worker.registry.dropped{reason} (entries left out: past the read cap, or malformed).

import type { Attributes, Meter } from '@opentelemetry/api';
import type { StoreFailures } from '../health/failures.js';
import type { RegistrySnapshot, RegistryView } from '../health/view/view.js';
import { INSTANCE_STATES } from '../registry/entry.js';
import { boundedLabel } from './label-values.js';
import { type GaugeFamily, observeFamilies, type SeriesProducer } from './series-producer.js';

/** `series`: the preload's producer of fresh series; absent when the app brought its own SDK. */
export function registerWorkerGauges(
  meter: Meter,
  series: SeriesProducer | undefined,
  view: RegistryView,
  failures: StoreFailures,
): void {
  const families = async () => workerFamilies(await view.snapshot());
  if (series) series.add(families);
  else {
    const shapes = workerFamilies({ workers: [], fleet: false } as unknown as RegistrySnapshot);
    observeFamilies(meter, shapes, families);
  }
  registerCounters(meter, view, failures);
}

export function workerFamilies(snapshot: RegistrySnapshot): GaugeFamily[] {
  const status: GaugeFamily = {
    name: 'worker.status',
    description:
      'Worker health: 1 running (at least one live instance, running or paused), 0 stopped, dead or hung',
    unit: '{status}',
    points: [],
  };
  const state: GaugeFamily = {
    name: 'bullmq.worker.state',
    description:
      "1 for the worker's state (the best of its instances: running, paused, hung, dead, stopped), 0 for the others",
    unit: '{state}',
    points: [],
  };
  const oldest: GaugeFamily = {
    name: 'bullmq.worker.oldest_active_job.age',
    description: 'Age of the oldest job being processed by a live instance of the worker',
    unit: 's',
    points: [],
  };
  const active: GaugeFamily = {
    name: 'bullmq.worker.active_jobs',
    description: 'Jobs being processed by live instances of the worker',
    unit: '{job}',
    points: [],
  };
  const instances: GaugeFamily = {
    name: 'bullmq.worker.instances',
    description:
      'Instances of the worker by state (running, paused, hung, dead, stopped), from the registry; exported by the fleet view only',
    unit: '{instance}',
    points: [],
  };
  for (const group of snapshot.workers) {
    const attributes: Attributes = {
      'jobwatch.registry': boundedLabel(group.registry),
      'bullmq.worker.name': boundedLabel(group.name),
    };
    if (group.queue) attributes['messaging.destination.name'] = boundedLabel(group.queue);
    status.points.push({ value: group.alive ? 1 : 0, attributes });
    for (const each of INSTANCE_STATES) {
      state.points.push({
        value: group.state === each ? 1 : 0,
        attributes: { ...attributes, 'bullmq.worker.state': each },
      });
    }
    if (group.kind === 'worker') {
      oldest.points.push({ value: group.oldestActiveJobAgeMs / 1000, attributes });
      active.points.push({ value: group.activeJobs, attributes });
    }
    if (!snapshot.fleet) continue;
    for (const each of INSTANCE_STATES) {
      const count = group.instances.filter((i) => i.verdict.state === each).length;
      instances.points.push({
        value: count,
        attributes: { ...attributes, 'bullmq.worker.state': each },
      });
    }
  }
  return [status, state, oldest, active, instances];
}

function registerCounters(meter: Meter, view: RegistryView, failures: StoreFailures): void {
  meter
    .createObservableCounter('bullmq.worker.heartbeat.errors', {
      description:
        "jobwatch's own registry calls (heartbeats, the fleet-view lease, registry reads) that the store (Redis or PostgreSQL) refused or that failed, by reason; while they fail this process's workers are invisible to the fleet",
      unit: '{error}',
    })
    .addCallback((result) => {
      for (const [reason, count] of failures.counts) result.observe(count, { reason });
    });
  meter
    .createObservableCounter('bullmq.worker.registry.dropped', {
      description:
        'Registry entries left out of fleet reads, by reason: cap (the oldest stopped ones, past the read cap), malformed (not a jobwatch entry: overwritten or truncated)',
      unit: '{entry}',
    })
    .addCallback((result) => {
      result.observe(view.dropped.cap, { reason: 'cap' });
      result.observe(view.dropped.malformed, { reason: 'malformed' });
    });
}
