// `jobwatch status`: workers and queues as a terminal table (--json: the
// health report), and the report's status as the exit code. Times are shown
// relative to the store's time, like the registry. Names come from the
// registry, which anyone who can write to the store can fill: the table
// escapes control characters and cuts long names.

import type { HealthReport } from '../health/report.js';
import type { InstanceView } from '../health/view/view.js';
import { exitCodeOf } from './exit-codes.js';
import type { CliOptions } from './options.js';
import { readHealth } from './read-health.js';
import { cell } from './terminal.js';

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
  return exitCodeOf(read.report.status);
}

function render(report: HealthReport, instances: InstanceView[], now: number): string {
  const workers = [...instances].sort(
    (a, b) => a.name.localeCompare(b.name) || a.host.localeCompare(b.host),
  );
  const groupAlive = (i: InstanceView) =>
    Object.values(report.workers).find((w) => w.instances.some((x) => x.id === i.id))?.status ?? 0;
  const workerRows = workers.map((i) =>
    [
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
    ].map(cell),
  );
  const queueRows = Object.entries(report.queues)
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([name, counts]) => [cell(name), ...QUEUE_COLUMNS.map((c) => String(counts[c] ?? 0))]);
  return [
    `jobwatch status: ${report.status.toUpperCase()}${report.reason ? ` (${cell(report.reason)})` : ''}  ${report.timestamp}`,
    ...report.stores.map(
      (s) =>
        `read ${s.store} ${cell(s.registry)}: ${s.ok ? `${s.instances} instances` : `UNREADABLE (${cell(s.error ?? '')})`}${s.skipped > 0 ? `, ${s.skipped} malformed entries skipped` : ''}`,
    ),
    ...(report.stores.length === 0 ? ['read no registry'] : []),
    ...(report.heartbeats ? [`heartbeats ${cell(report.heartbeats)}`] : []),
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
