// `jobwatch status`: workers and queues as a terminal table (--json: the
// health report). Times are shown relative to Redis time, like the registry.

import type { HealthReport } from '../health/report.js';
import type { InstanceView } from '../health/view/view.js';
import type { CliOptions } from './options.js';
import { readHealth } from './read-health.js';

const QUEUE_COLUMNS = [
  'waiting',
  'active',
  'delayed',
  'prioritized',
  'waiting-children',
  'paused',
  'failed',
  'completed',
];

export async function runStatus(options: CliOptions): Promise<number> {
  const read = await readHealth(options);
  void read.close();
  if (options.json) {
    process.stdout.write(`${JSON.stringify(read.report, null, 2)}\n`);
  } else {
    process.stdout.write(render(read.report, read.snapshot.instances, read.snapshot.now));
  }
  return 0;
}

function render(report: HealthReport, instances: InstanceView[], now: number): string {
  const workers = [...instances].sort(
    (a, b) => a.name.localeCompare(b.name) || a.host.localeCompare(b.host),
  );
  const groupAlive = (i: InstanceView) =>
    Object.values(report.workers).find((w) => w.instances.some((x) => x.id === i.id))?.status ?? 0;
  const workerRows = workers.map((i) => [
    i.name,
    i.queue || '-',
    String(groupAlive(i)),
    i.verdict.alive ? '1' : '0',
    i.verdict.state,
    i.lastBeat > 0 ? ago(now - i.lastBeat) : 'never',
    String(i.processed),
    String(i.failed),
    String(i.active),
    i.host,
    String(i.pid),
    i.verdict.reason,
  ]);
  const queueRows = Object.entries(report.queues)
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([name, counts]) => [name, ...QUEUE_COLUMNS.map((c) => String(counts[c] ?? 0))]);
  const redis = report.redis.reachable
    ? 'reachable'
    : `UNREACHABLE (${report.redis.errors.join('; ')})`;
  return [
    `jobwatch status: ${report.status.toUpperCase()}${degradedNote(report)}  (Redis ${redis}, ${report.timestamp})`,
    ...(report.heartbeats ? [`heartbeats ${report.heartbeats}`] : []),
    '',
    'WORKERS',
    table(
      [
        'NAME',
        'QUEUE',
        'WORKER',
        'INSTANCE',
        'STATE',
        'LAST SEEN',
        'PROCESSED',
        'FAILED',
        'ACTIVE',
        'HOST',
        'PID',
        'REASON',
      ],
      workerRows,
    ),
    '',
    'QUEUES',
    table(['QUEUE', ...QUEUE_COLUMNS.map((c) => c.toUpperCase())], queueRows),
    '',
  ].join('\n');
}

/** A partly dead fleet is healthy (each worker still runs) but says how many instances are down. */
function degradedNote(report: HealthReport): string {
  const degraded = Object.values(report.workers).filter(
    (w) => w.alive && w.instances.some((i) => i.state === 'dead' || i.state === 'hung'),
  );
  if (degraded.length === 0) return '';
  return `, ${degraded.length} worker${degraded.length > 1 ? 's' : ''} with dead or hung instances`;
}

function ago(ms: number): string {
  const s = Math.max(0, ms) / 1000;
  if (s < 60) return `${s.toFixed(1)}s ago`;
  if (s < 3600) return `${Math.floor(s / 60)}m${Math.floor(s % 60)}s ago`;
  return `${(s / 3600).toFixed(1)}h ago`;
}

function table(header: string[], rows: string[][]): string {
  if (rows.length === 0) return '  (none)';
  const widths = header.map((h, c) => Math.max(h.length, ...rows.map((r) => r[c]!.length)));
  const line = (cells: string[]) =>
    cells
      .map((cell, c) => (c === cells.length - 1 ? cell : cell.padEnd(widths[c]!)))
      .join('  ')
      .trimEnd();
  return [line(header), ...rows.map(line)].join('\n');
}
