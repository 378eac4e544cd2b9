// Why a command of jobwatch's own (a beat, the lease, a registry read) failed,
// as one reason from a fixed set, whatever the store: the reasons of the
// bullmq.worker.heartbeat.errors counter, so one alert
// (BackgroundWorkerHeartbeatFailing) means "this process's workers are
// invisible to the fleet" on every backend. Each backend classifies its own
// errors (src/backends/*/errors.ts).

export const FAILURE_REASONS = [
  'noperm',
  'oom',
  'crossslot',
  'unknown_command',
  'readonly',
  'connection',
  'timeout',
  'other',
] as const;

export type FailureReason = (typeof FAILURE_REASONS)[number];

/** True for reasons that say the store itself is out of reach (rather than refusing jobwatch). */
export function isUnreachable(reason: FailureReason): boolean {
  return reason === 'connection' || reason === 'timeout';
}

/** A backend's reading of a failure: the reason, and what to do about it in a few words. */
export interface FailureReading {
  reason: FailureReason;
  advice: string;
}
