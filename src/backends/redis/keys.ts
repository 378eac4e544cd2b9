// Where jobwatch keeps the registry in Redis, per BullMQ prefix (default
// `bull`), every key in one Redis Cluster slot: the prefix's own hash tag when
// it has one (`{bull}`), else `{prefix}`.
//   {base} = bull:jobwatch:{bull}   ({bull}:jobwatch for the prefix `{bull}`)
//   {base}:beats           sorted set: member = instance id, score = Redis time
//                          (ms) of its last beat, for running and hung instances
//                          (so "who is dead" is a score range)
//   {base}:stopped         sorted set: the same for stopped instances, by stop time
//   {base}:instance:{id}   hash of the entry's fields, PEXPIRE retention
//   {base}:lease           the process exporting the fleet view (SET NX PX)
// Index members older than the retention are purged by every beat.
// A queue's own keys are BullMQ's: {prefix}:{queue}:wait, …:active, …

import { QUEUE_STATES } from '../backend.js';

/** The hash-tagged base of every registry key of `prefix` (see the key shape above). */
export function registryBase(prefix: string): string {
  return /\{[^}]+\}/.test(prefix) ? `${prefix}:jobwatch` : `${prefix}:jobwatch:{${prefix}}`;
}

export function beatsKey(prefix: string): string {
  return `${registryBase(prefix)}:beats`;
}

export function stoppedKey(prefix: string): string {
  return `${registryBase(prefix)}:stopped`;
}

export function leaseKey(prefix: string): string {
  return `${registryBase(prefix)}:lease`;
}

export function instanceKeyPrefix(prefix: string): string {
  return `${registryBase(prefix)}:instance:`;
}

export function instanceKey(prefix: string, id: string): string {
  return instanceKeyPrefix(prefix) + id;
}

/** BullMQ's keys of a queue, one per QUEUE_STATES: each state's own name, but `wait` for waiting. */
export function queueKeys(prefix: string, queue: string): string[] {
  return QUEUE_STATES.map((state) => `${prefix}:${queue}:${state === 'waiting' ? 'wait' : state}`);
}
