// worker.status and its companions per (worker name, queue): the roll-up of
// the instances in a view.

import { INSTANCE_STATES, type InstanceFields, type InstanceState } from '../../registry/entry.js';
import type { Verdict } from '../../registry/liveness.js';

export interface InstanceView extends InstanceFields {
  verdict: Verdict;
  /** True for this process's own instances (known without a registry read). */
  local: boolean;
  /** The scope of the registry the instance beats into ('' for none). */
  registry: string;
}

/** One worker: the instances of one name, on one queue, in one registry. */
export interface WorkerGroup {
  registry: string;
  name: string;
  queue: string;
  kind: 'worker' | 'task';
  /** worker.status: 1 if at least one instance is alive. */
  alive: boolean;
  /** The best state of its instances (INSTANCE_STATES order): running if one runs. */
  state: InstanceState;
  /** Largest store time of a beat among the instances (ms). */
  lastSeen: number;
  activeJobs: number;
  oldestActiveJobAgeMs: number;
  instances: InstanceView[];
}

export function groupInstances(instances: InstanceView[], now: number): WorkerGroup[] {
  const groups = new Map<string, WorkerGroup>();
  for (const instance of instances) {
    const key = `${instance.registry}\u0000${instance.name}\u0000${instance.queue}`;
    let group = groups.get(key);
    if (!group) {
      group = {
        registry: instance.registry,
        name: instance.name,
        queue: instance.queue,
        kind: instance.kind,
        alive: false,
        state: instance.verdict.state,
        lastSeen: 0,
        activeJobs: 0,
        oldestActiveJobAgeMs: 0,
        instances: [],
      };
      groups.set(key, group);
    }
    group.instances.push(instance);
    group.alive ||= instance.verdict.alive;
    if (INSTANCE_STATES.indexOf(instance.verdict.state) < INSTANCE_STATES.indexOf(group.state)) {
      group.state = instance.verdict.state;
    }
    group.lastSeen = Math.max(group.lastSeen, instance.lastBeat);
    // A dead or stopped instance's jobs are no longer its own (they stall back to wait).
    if (instance.verdict.state === 'running' || instance.verdict.state === 'hung') {
      const silent = instance.local ? 0 : Math.max(0, now - instance.lastBeat);
      group.activeJobs += instance.active;
      if (instance.oldestActiveMs > 0) {
        group.oldestActiveJobAgeMs = Math.max(
          group.oldestActiveJobAgeMs,
          instance.oldestActiveMs + silent,
        );
      }
    }
  }
  return [...groups.values()];
}
