// When Redis refuses jobwatch's own commands (heartbeats, the lease, registry
// reads) while the app's work goes on: counted by reason for
// bullmq.worker.heartbeat.errors, said in one line per reason, and shown on
// /health/queues as `heartbeats: unavailable (reason)`. None of this touches
// readiness, which follows the app's own BullMQ connections.

import { logError, warnRateLimited } from '../log.js';
import {
  isUnreachable,
  REFUSAL_REASONS,
  type RefusalReason,
  refusalAdvice,
  refusalReason,
} from '../redis/errors.js';
import { registryBase } from './registry/keys.js';

export class HeartbeatErrors {
  /** Errors per reason since the process started (the counter's values). */
  readonly counts = new Map<RefusalReason, number>(REFUSAL_REASONS.map((r) => [r, 0]));
  private readonly said = new Set<RefusalReason>();
  private current: { reason: RefusalReason; advice: string } | undefined;

  /** Counts a failed write (or read) and says once per reason what Redis refused. */
  record(err: unknown, prefix: string, what: string): RefusalReason {
    const reason = refusalReason(err);
    this.count(reason);
    const advice = refusalAdvice(reason, err, registryBase(prefix));
    this.current = { reason, advice };
    const line = `${what} refused by Redis (${reason}): ${advice}; jobs still run, but this process's workers are invisible to the fleet`;
    if (isUnreachable(reason)) {
      warnRateLimited(`heartbeat:${reason}`, `${what} failed (retrying every beat): ${advice}`);
    } else if (!this.said.has(reason)) {
      this.said.add(reason);
      logError(line);
    }
    return reason;
  }

  /** Counts a failed write that another store reports itself (PostgreSQL says its own lines). */
  count(reason: RefusalReason): void {
    this.counts.set(reason, (this.counts.get(reason) ?? 0) + 1);
  }

  /** A write went through: heartbeats are available again. */
  succeeded(): void {
    this.current = undefined;
  }

  /** True while the last write failed because Redis is out of reach. */
  unreachable(): boolean {
    return this.current !== undefined && isUnreachable(this.current.reason);
  }

  /** `unavailable (reason: what to do)` while the last write failed; undefined when they work. */
  status(): string | undefined {
    return this.current && `unavailable (${this.current.reason}: ${this.current.advice})`;
  }
}
