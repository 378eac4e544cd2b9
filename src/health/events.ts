// Worker lifecycle events: one OpenTelemetry log record per change of an
// instance's state, from the process that holds the fleet view, so that "which
// workers died last night, and why?" has an answer in the logs store after
// the gauge has gone back to 1. A dead process cannot log its own death;
// another process can.
//
//   bullmq.worker.started    first seen running (or paused)
//   bullmq.worker.paused     running → paused;  bullmq.worker.resumed: back
//   bullmq.worker.hung       alive but making no progress (the reason says what stalled)
//   bullmq.worker.dead       its heartbeats stopped
//   bullmq.worker.recovered  hung or dead → running
//   bullmq.worker.stopped    a graceful stop
//
// Each record names the instance, worker, queue, host, pid, the new and the
// previous state, the reason and the registry. Only when a logs exporter is
// configured (OTEL_LOGS_EXPORTER, or the app's own LoggerProvider); else
// nothing runs. The holder checks every heartbeat interval, from the same
// cached registry read the gauges use. A process that takes the lease over
// first learns the states as they are (no record for what it never saw
// change), so a change during a lease move can go unrecorded.

import { type Attributes, type Logger, logs } from '@opentelemetry/api';
import { guard } from '../log.js';
import type { InstanceState } from '../registry/entry.js';
import { VERSION } from '../version.js';
import type { InstanceView } from './view/groups.js';
import type { RegistryView } from './view/view.js';

const SEVERITY = { INFO: 9, WARN: 13, ERROR: 17 } as const;

interface Change {
  event: string;
  severity: keyof typeof SEVERITY;
}

/** The event for a change from `from` (undefined: never seen) to `to`; undefined when none is due. */
export function changeOf(from: InstanceState | undefined, to: InstanceState): Change | undefined {
  if (from === to) return undefined;
  if (to === 'dead') return { event: 'bullmq.worker.dead', severity: 'ERROR' };
  if (to === 'hung') return { event: 'bullmq.worker.hung', severity: 'ERROR' };
  if (to === 'stopped') return { event: 'bullmq.worker.stopped', severity: 'INFO' };
  if (from === undefined) return { event: 'bullmq.worker.started', severity: 'INFO' };
  if (from === 'dead' || from === 'hung')
    return { event: 'bullmq.worker.recovered', severity: 'WARN' };
  if (to === 'paused') return { event: 'bullmq.worker.paused', severity: 'INFO' };
  if (from === 'paused') return { event: 'bullmq.worker.resumed', severity: 'INFO' };
  return undefined; // stopped → running cannot happen: a stopped instance never beats again
}

/** True when log records go anywhere: a logs exporter of jobwatch's SDK, or the app's provider. */
export function logsExported(): boolean {
  const exporter = process.env.OTEL_LOGS_EXPORTER?.trim().toLowerCase();
  if (exporter && exporter !== 'none') return true;
  const provider = logs.getLoggerProvider() as { _getDelegate?(): object };
  const delegate = provider._getDelegate?.() ?? provider;
  return delegate.constructor.name !== 'NoopLoggerProvider';
}

export class LifecycleEvents {
  private readonly known = new Map<string, InstanceState>();
  /** False until a first fleet read set what is known (nothing is recorded for it). */
  private primed = false;
  private timer: NodeJS.Timeout | undefined;
  private checking = false;

  constructor(
    private readonly view: RegistryView,
    private readonly intervalMs: number,
    private readonly logger: Logger = logs.getLogger('jobwatch', VERSION),
  ) {}

  start(): void {
    if (this.timer) return;
    this.timer = setInterval(() => void this.check(), this.intervalMs);
    this.timer.unref();
  }

  close(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }

  /** Compares the fleet view with what was known, and records each change. */
  async check(): Promise<void> {
    if (this.checking) return;
    this.checking = true;
    try {
      if (!this.view.leading) {
        this.known.clear();
        this.primed = false;
        return;
      }
      const snapshot = await this.view.snapshot();
      if (!snapshot.fleet) return;
      guard('events', () => this.compare(snapshot.instances));
    } catch {
      // a read that failed is counted and said by the view; the next check tries again
    } finally {
      this.checking = false;
    }
  }

  private compare(instances: InstanceView[]): void {
    const seen = new Set<string>();
    for (const instance of instances) {
      seen.add(instance.id);
      const before = this.known.get(instance.id);
      const now = instance.verdict.state;
      this.known.set(instance.id, now);
      if (!this.primed) continue;
      const change = changeOf(before, now);
      if (change) this.record(change, instance, before);
    }
    for (const id of this.known.keys()) if (!seen.has(id)) this.known.delete(id); // purged
    this.primed = true;
  }

  private record(change: Change, instance: InstanceView, before: InstanceState | undefined): void {
    const { verdict } = instance;
    const attributes: Attributes = {
      'bullmq.worker.instance.id': instance.id,
      'bullmq.worker.name': instance.name,
      'messaging.destination.name': instance.queue,
      'host.name': instance.host,
      'process.pid': instance.pid,
      'bullmq.worker.state': verdict.state,
      'jobwatch.registry': instance.registry,
    };
    if (before !== undefined) attributes['bullmq.worker.previous_state'] = before;
    if (verdict.reason) attributes['bullmq.worker.state.reason'] = verdict.reason;
    this.logger.emit({
      eventName: change.event,
      severityNumber: SEVERITY[change.severity],
      severityText: change.severity,
      body: `worker ${instance.name} (queue ${instance.queue}) instance ${instance.id} on ${instance.host} pid ${instance.pid} is ${verdict.state}${verdict.reason ? `: ${verdict.reason}` : ''}`,
      attributes,
    });
  }
}
