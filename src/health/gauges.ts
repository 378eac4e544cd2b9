// worker.status and its companion gauges, observed together from one registry
// snapshot per collection. Attributes are the worker name and the queue only:
// one stable series per worker, whatever the number of instances, pids or hosts.

import type { Attributes, Meter } from '@opentelemetry/api';
import { boundedLabel } from '../metrics/label-values.js';
import type { RegistryView } from './registry-view.js';

export function registerWorkerGauges(meter: Meter, view: RegistryView): void {
  const status = meter.createObservableGauge('worker.status', {
    description: 'Worker health: 1 running (at least one live instance), 0 stopped, dead or hung',
    unit: '{status}',
  });
  const oldest = meter.createObservableGauge('bullmq.worker.oldest_active_job.age', {
    description: 'Age of the oldest job being processed by a live instance of the worker',
    unit: 's',
  });
  const active = meter.createObservableGauge('bullmq.worker.active_jobs', {
    description: 'Jobs being processed by live instances of the worker',
    unit: '{job}',
  });
  meter.addBatchObservableCallback(
    async (result) => {
      const snapshot = await view.snapshot();
      for (const group of snapshot.workers) {
        const attributes: Attributes = { 'bullmq.worker.name': boundedLabel(group.name) };
        if (group.queue) attributes['messaging.destination.name'] = boundedLabel(group.queue);
        result.observe(status, group.alive ? 1 : 0, attributes);
        if (group.kind === 'worker') {
          result.observe(oldest, group.oldestActiveJobAgeMs / 1000, attributes);
          result.observe(active, group.activeJobs, attributes);
        }
      }
    },
    [status, oldest, active],
  );
}
