// When a registry refuses or fails jobwatch's own calls (heartbeats, the
// lease, registry reads) while the app's work goes on: counted by reason for
// bullmq.worker.heartbeat.errors, said in one line per reason, and shown on
// /health/queues as `heartbeats: unavailable (reason)`. None of this touches
// readiness, which follows the app's own BullMQ connections.

import type { Registry } from '../backends/backend.js';
import { logError, warnRateLimited } from '../log.js';
import { FAILURE_REASONS, type FailureReason, isUnreachable } from '../registry/failures.js';

export class StoreFailures {
  /** Failures per reason since the process started (the counter's values). */
  readonly counts = new Map<FailureReason, number>(FAILURE_REASONS.map((r) => [r, 0]));
  private readonly said = new Set<FailureReason>();
  private current: { reason: FailureReason; advice: string } | undefined;

  /** Counts a failed call on `registry` and says once per reason what was refused. */
  record(registry: Registry, err: unknown, what: string): FailureReason {
    const { reason, advice } = registry.classify(err);
    this.count(reason);
    // A registry that cannot work here at all has said so in a line of its own.
    if (registry.unavailable !== undefined) return reason;
    this.current = { reason, advice };
    if (isUnreachable(reason)) {
      warnRateLimited(`heartbeat:${reason}`, `${what} failed (retrying every beat): ${advice}`);
    } else if (!this.said.has(reason)) {
      this.said.add(reason);
      logError(
        `${what} refused by ${registry.storeName} (${reason}): ${advice}; jobs still run, but this process's workers are invisible to the fleet`,
      );
    }
    return reason;
  }

  /** Counts a call that could not be made (e.g. on a registry that cannot work here). */
  count(reason: FailureReason): void {
    this.counts.set(reason, (this.counts.get(reason) ?? 0) + 1);
  }

  /** A write went through: heartbeats are available again. */
  succeeded(): void {
    this.current = undefined;
  }

  /** True while the last write failed because the store is out of reach. */
  unreachable(): boolean {
    return this.current !== undefined && isUnreachable(this.current.reason);
  }

  /** `unavailable (reason: what to do)` while the last write failed; undefined when they work. */
  status(): string | undefined {
    return this.current && `unavailable (${this.current.reason}: ${this.current.advice})`;
  }
}
