#!/usr/bin/env node
// jobwatch's alerting and recording rules as code, in the style of the
// monitoring mixins: one `config` decides what every rule aggregates by,
// and alerts/jobwatch.rules.yml is this file's output for the defaults.
//
//   node alerts/rules.mjs                          rewrites alerts/jobwatch.rules.yml
//   node alerts/rules.mjs --check                  exits 1 when the committed file differs
//   node alerts/rules.mjs --group-labels env,cluster [--runbook-url URL] > my.rules.yml
//                                                  rules for a Prometheus that scrapes
//                                                  several environments: every aggregation
//                                                  keeps these labels too
//
// What identifies a worker or a queue, so that two never share one series:
//   jobwatch_registry           the registry it lives in (store, server or database,
//                               prefix or schema), set by jobwatch with no configuration
//   bullmq_worker_name          the Worker's opts.name, else the queue name
//   messaging_destination_name  the BullMQ queue
//   config.groupLabels          labels you add per environment (a target label such as
//                               env or cluster), kept by every rule
// Job metrics (durations, failures, stalls) have no registry label: they are kept
// apart by config.groupLabels only.
import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));

/** The runbook's URL, from package.json's repository (so the links follow the project). */
function defaultRunbookUrl() {
  const pkg = JSON.parse(readFileSync(join(here, '..', 'package.json'), 'utf8'));
  const repo = String(pkg.repository?.url ?? pkg.repository ?? '')
    .replace(/^git\+/, '')
    .replace(/\.git$/, '');
  return `${repo}/blob/main/docs/runbook.md`;
}

/** The defaults: thresholds, `for` durations, and what every rule aggregates by. */
export const defaultConfig = {
  /** Labels every aggregation keeps besides jobwatch's own (e.g. ['env'], ['cluster', 'namespace']). */
  groupLabels: [],
  runbookUrl: defaultRunbookUrl(),
  /** How long a worker whose series vanished counts as known (and pages, unless it stopped on purpose). */
  knownFor: '1h',
  thresholds: {
    queue_backlog_jobs: 1000,
    queue_backlog_growing_min_jobs: 100,
    job_failure_ratio: 0.05,
    queue_oldest_waiting_seconds: 120,
    stalled_jobs: 0,
    job_stuck_seconds: 1800,
    worker_status_changes: 6,
    worker_instances_down: 0,
  },
};

const threshold = (name) => `jobwatch:threshold:${name}`;
const above = (name) => `> on () group_left ()\n${threshold(name)}`;

/** The rules for `config`, as the YAML Prometheus loads. */
export function rules(config = defaultConfig) {
  const g = config.groupLabels;
  const by = (...labels) => [...g, ...labels].join(', ');
  const W = by('jobwatch_registry', 'bullmq_worker_name', 'messaging_destination_name');
  const Q = by('jobwatch_registry', 'messaging_destination_name');
  const J = by('bullmq_worker_name', 'messaging_destination_name');
  const runbook = (alert) => `${config.runbookUrl}#${alert.toLowerCase()}`;
  const known = config.knownFor;
  const where = g.length ? ` (${g.map((l) => `${l} {{ $labels.${l} }}`).join(', ')})` : '';
  const worker =
    'BullMQ worker {{ $labels.bullmq_worker_name }} on queue {{ $labels.messaging_destination_name }}';
  const queue = 'Queue {{ $labels.messaging_destination_name }}';

  return [
    header(config),
    group('jobwatch-thresholds', [
      ...Object.entries(config.thresholds).map(([name, value]) => ({
        record: threshold(name),
        expr: `vector(${value})`,
      })),
    ]),
    group('jobwatch-workers', [
      {
        comment:
          '1 while at least one process reports a live instance (running or paused), 0 when all that report say 0.',
        record: 'worker_queue:worker_status:max',
        expr: `max by (${W}) (\n  worker_status{bullmq_worker_name!=""}\n)`,
      },
      {
        comment:
          '1 for a state some process reports for the worker (the best state of its instances: running, paused, hung, dead or stopped).',
        record: 'worker_queue:bullmq_worker_state:max',
        expr: `max by (${W}, bullmq_worker_state) (\n  bullmq_worker_state{bullmq_worker_name!=""}\n)`,
      },
      {
        comment: `Same as worker_status:max, plus 0 for a worker that reported within ${known} but whose series are gone now (every process reporting it was SIGKILLed, or its scrape target or push pipeline died), unless the last it said was that it stopped on purpose.`,
        record: 'worker_queue:worker_up:max',
        expr: `worker_queue:worker_status:max\nor\n0 * group by (${W}) (\n  max_over_time(worker_status{bullmq_worker_name!=""}[${known}])\n)\nunless on (${W}) (\n  max by (${W}) (\n    last_over_time(bullmq_worker_state{bullmq_worker_state="stopped"}[${known}])\n  ) == 1\n)`,
      },
      {
        alert: 'BackgroundWorkerDown',
        comment:
          'Down for a whole minute, and not because it stopped on purpose: every instance dead or hung, or its series gone. A worker every reporter says stopped (worker.close(), a deploy, a scale-down) does not page; jobs left waiting raise BackgroundQueueWaitTimeHigh. A replacement that heartbeats within the minute resets the timer. The last branch pages when nothing at all has reported worker_status within the known window: every exporter gone, or a Prometheus that has never seen a worker.',
        expr: `worker_queue:worker_up:max == 0\nunless on (${W}) (\n  worker_queue:bullmq_worker_state:max{bullmq_worker_state="stopped"} == 1\n  unless on (${W})\n  worker_queue:bullmq_worker_state:max{bullmq_worker_state=~"dead|hung"} == 1\n)\nor\n0 * absent_over_time(worker_status{bullmq_worker_name!=""}[${known}])`,
        for: '1m',
        severity: 'critical',
        summary: `{{ if $labels.bullmq_worker_name }}${worker} is down${where}.{{ else }}No BullMQ worker reports its status.{{ end }}`,
        description: `{{ if $labels.bullmq_worker_name }}No live instance of worker {{ $labels.bullmq_worker_name }} (queue {{ $labels.messaging_destination_name }}{{ if $labels.jobwatch_registry }}, registry {{ $labels.jobwatch_registry }}{{ end }}) for at least 1 minute: its instances crashed, were killed or hung, or its worker_status series disappeared.{{ else }}No jobwatch process has reported worker_status within ${known}: every worker and the fleet view are gone, or their metrics no longer reach Prometheus.{{ end }}`,
        runbook: runbook('BackgroundWorkerDown'),
      },
      {
        alert: 'BackgroundWorkerFlapping',
        comment:
          "A crash loop shorter than BackgroundWorkerDown's `for` never pages; this catches it. It counts changes of what the processes report (worker_status:max), not series vanishing and coming back: a failed scrape, or a push interval longer than the collector's metric_expiration, leaves such gaps on a healthy worker. A crash loop of a worker with no other process to report its 0 shows as gaps only; its dead instances then raise BackgroundWorkerInstancesDown.",
        expr: `changes(worker_queue:worker_status:max[15m])\n>= on () group_left ()\n${threshold('worker_status_changes')}`,
        severity: 'warning',
        summary: `${worker} keeps going up and down${where}.`,
        description:
          'Worker {{ $labels.bullmq_worker_name }} (queue {{ $labels.messaging_destination_name }}) changed between up and down {{ $value }} times in 15 minutes, typically a crash loop.',
        runbook: runbook('BackgroundWorkerFlapping'),
      },
      {
        alert: 'BackgroundWorkerInstancesDown',
        comment:
          'Some instances of a worker are dead or hung while another still runs, so worker_status stays 1 and BackgroundWorkerDown does not fire. Only the elected fleet view exports bullmq_worker_instances; max by state keeps a lease move (two exporters for a moment) from doubling the count. A dead instance stays in the registry for the retention (default 15m), longer than this `for`: a crashed replica that was replaced tickets too.',
        expr: `sum by (${W}) (\n  max by (${W}, bullmq_worker_state) (\n    bullmq_worker_instances{bullmq_worker_state=~"dead|hung"}\n  )\n)\n${above('worker_instances_down')}\nand on (${W})\nworker_queue:worker_status:max > 0`,
        for: '5m',
        severity: 'warning',
        summary: `Some instances of ${worker} are dead or hung${where}.`,
        description:
          '{{ $value }} instances of worker {{ $labels.bullmq_worker_name }} (queue {{ $labels.messaging_destination_name }}) have been dead or hung for 5 minutes while another instance keeps it up: the fleet runs with less capacity than deployed.',
        runbook: runbook('BackgroundWorkerInstancesDown'),
      },
      {
        alert: 'BackgroundWorkerHeartbeatFailing',
        comment:
          "The process's heartbeats to the registry are refused (ACL, OOM, read-only replica, cluster slots, timeouts): its workers may process jobs, but no view can see them, so their crash would not be detected. Per process: the counter has no worker label. Errors in every 2-minute window for 5 minutes, so that one blip never tickets.",
        expr: `sum by (${by('job', 'instance', 'reason')}) (\n  increase(bullmq_worker_heartbeat_errors_total[2m])\n)\n> 0`,
        for: '5m',
        severity: 'warning',
        summary: `Worker process {{ $labels.instance }} (job {{ $labels.job }}) cannot write its heartbeats${where}.`,
        description:
          'Worker process {{ $labels.instance }} (job {{ $labels.job }}) has had heartbeat writes refused ({{ $labels.reason }}, about {{ $value | printf "%.0f" }} in 2 minutes) for 5 minutes: its workers are invisible to the fleet, and a crash would not be detected.',
        runbook: runbook('BackgroundWorkerHeartbeatFailing'),
      },
      {
        alert: 'BackgroundJobStuck',
        expr: `max by (${W}) (\n  bullmq_worker_oldest_active_job_age_seconds\n)\n${above('job_stuck_seconds')}`,
        for: '5m',
        severity: 'warning',
        summary: `A job on worker {{ $labels.bullmq_worker_name }} (queue {{ $labels.messaging_destination_name }}) has been active for too long${where}.`,
        description:
          'The oldest active job of worker {{ $labels.bullmq_worker_name }} on queue {{ $labels.messaging_destination_name }} has been running for {{ $value | humanizeDuration }}.',
        runbook: runbook('BackgroundJobStuck'),
      },
      {
        alert: 'BackgroundWorkerMetricsMissing',
        comment:
          'Jobs are queued (some view reports the queue depth) but no worker metrics exist for the queue at all: nothing consumes it, or its workers run without jobwatch, or their metrics never reach Prometheus.',
        expr: `max by (${Q}) (bullmq_queue_jobs)\nunless on (${Q})\nmax by (${Q}) (\n  max_over_time(worker_status{bullmq_worker_name!=""}[${known}])\n)`,
        for: '10m',
        severity: 'warning',
        summary: `${queue} has no worker metrics${where}.`,
        description: `Queue {{ $labels.messaging_destination_name }}{{ if $labels.jobwatch_registry }} (registry {{ $labels.jobwatch_registry }}){{ end }} is reported by jobwatch but no worker for it has reported worker_status within ${known}.`,
        runbook: runbook('BackgroundWorkerMetricsMissing'),
      },
    ]),
    group('jobwatch-queues', [
      {
        comment:
          'Jobs ready to run and not yet picked up. Paused and delayed jobs are intentional.',
        record: 'queue:bullmq_queue_backlog_jobs:sum',
        expr: `sum by (${Q}) (\n  max by (${Q}, bullmq_job_state) (\n    bullmq_queue_jobs{bullmq_job_state=~"waiting|prioritized"}\n  )\n)`,
      },
      {
        comment:
          'How long the job next in line has been ready; grows while nothing consumes the queue (every process reading the queue reports the same age).',
        record: 'queue:bullmq_queue_oldest_waiting_job_age_seconds:max',
        expr: `max by (${Q}) (\n  bullmq_queue_oldest_waiting_job_age_seconds\n)`,
      },
      {
        comment: 'Wait time of the jobs picked up, for the dashboard.',
        record: 'queue:bullmq_job_wait_duration_seconds:p95_rate5m',
        expr: `histogram_quantile(0.95,\n  sum by (${by('messaging_destination_name', 'le')}) (\n    rate(bullmq_job_wait_duration_seconds_bucket[5m])\n  )\n)`,
      },
      {
        alert: 'BackgroundQueueBacklogTooDeep',
        expr: `queue:bullmq_queue_backlog_jobs:sum\n${above('queue_backlog_jobs')}`,
        for: '15m',
        severity: 'warning',
        summary: `${queue} has a deep backlog${where}.`,
        description:
          'Queue {{ $labels.messaging_destination_name }} has had more waiting jobs than its threshold for 15 minutes ({{ $value }} now).',
        runbook: runbook('BackgroundQueueBacklogTooDeep'),
      },
      {
        alert: 'BackgroundQueueBacklogGrowing',
        expr: `deriv(queue:bullmq_queue_backlog_jobs:sum[15m]) > 0\nand on (${Q})\nqueue:bullmq_queue_backlog_jobs:sum\n${above('queue_backlog_growing_min_jobs')}`,
        for: '15m',
        severity: 'warning',
        summary: `The backlog of queue {{ $labels.messaging_destination_name }} keeps growing${where}.`,
        description:
          'Queue {{ $labels.messaging_destination_name }} has been gaining about {{ $value | printf "%.2f" }} waiting jobs per second for 15 minutes; workers do not keep up.',
        runbook: runbook('BackgroundQueueBacklogGrowing'),
      },
      {
        alert: 'BackgroundQueueWaitTimeHigh',
        comment:
          'The job next in line has been waiting too long: workers are too few or too slow, or nothing consumes the queue at all (then no job is picked up, which the wait-time histogram cannot show, but this age keeps growing).',
        expr: `queue:bullmq_queue_oldest_waiting_job_age_seconds:max\n${above('queue_oldest_waiting_seconds')}`,
        for: '5m',
        severity: 'warning',
        summary: `Jobs on queue {{ $labels.messaging_destination_name }} wait too long before a worker picks them up${where}.`,
        description:
          'The job next in line on queue {{ $labels.messaging_destination_name }} has been ready for {{ $value | humanizeDuration }}, above its threshold for 5 minutes.',
        runbook: runbook('BackgroundQueueWaitTimeHigh'),
      },
    ]),
    group('jobwatch-jobs', [
      {
        comment: 'Failed attempts over all attempts; 0 (not absent) when nothing failed.',
        record: 'worker_queue:messaging_process_failure_ratio:rate5m',
        expr: `(\n  sum by (${J}) (\n    rate(messaging_client_consumed_messages_total{error_type!=""}[5m])\n  )\n  or\n  0 * sum by (${J}) (\n    rate(messaging_client_consumed_messages_total[5m])\n  )\n)\n/\nsum by (${J}) (\n  rate(messaging_client_consumed_messages_total[5m])\n)`,
      },
      {
        alert: 'BackgroundJobFailureRatioHigh',
        expr: `worker_queue:messaging_process_failure_ratio:rate5m\n${above('job_failure_ratio')}`,
        for: '10m',
        severity: 'warning',
        summary: `Too many jobs fail on worker {{ $labels.bullmq_worker_name }} (queue {{ $labels.messaging_destination_name }})${where}.`,
        description:
          '{{ $value | humanizePercentage }} of the job attempts of worker {{ $labels.bullmq_worker_name }} on queue {{ $labels.messaging_destination_name }} failed over the last 5 minutes, above its threshold for 10 minutes.',
        runbook: runbook('BackgroundJobFailureRatioHigh'),
      },
      {
        alert: 'BackgroundJobsStalled',
        comment:
          'The second branch sees the first stall of a new counter series, which increase() cannot (the series is born at 1, not 0).',
        expr: `sum by (${J}) (\n  increase(bullmq_job_stalled_total[10m])\n)\n${above('stalled_jobs')}\nor\nsum by (${J}) (\n  bullmq_job_stalled_total unless bullmq_job_stalled_total offset 10m\n)\n${above('stalled_jobs')}`,
        severity: 'warning',
        summary: `Jobs stalled on queue {{ $labels.messaging_destination_name }} (worker {{ $labels.bullmq_worker_name }})${where}.`,
        description:
          'About {{ $value | printf "%.0f" }} jobs of queue {{ $labels.messaging_destination_name }} stalled in the last 10 minutes (detected by worker {{ $labels.bullmq_worker_name }}); a worker died or blocked its event loop while holding them.',
        runbook: runbook('BackgroundJobsStalled'),
      },
    ]),
  ].join('');
}

function header(config) {
  const t = config.thresholds;
  const row = (name, used) => `#   ${name.padEnd(34)}${String(t[name]).padStart(6)}     ${used}`;
  return `# jobwatch alerting and recording rules for BullMQ workers and queues.
# GENERATED by alerts/rules.mjs: edit that file (or run it with your own
# --group-labels), not this one.
#
# Label vocabulary (the Prometheus names are jobwatch's public contract):
#   jobwatch_registry           the registry a worker or queue lives in (store, server or
#                               database, prefix or schema): two environments never merge
#   messaging_destination_name  the BullMQ queue
#   bullmq_worker_name          the Worker's opts.name, else the queue name
#   bullmq_worker_state         running, paused, hung, dead, stopped
#   worker_queue:* / queue:*    recording-rule levels: per worker / per queue
#${config.groupLabels.length ? `   ${config.groupLabels.join(', ')}: kept by every aggregation (--group-labels)\n#` : ''}
# worker_status comes from two kinds of process: each worker process for its own workers,
# and the one elected fleet view (a lease that can move between processes, or a
# \`jobwatch monitor\` sidecar) for every worker in the registry. The same worker is often
# reported twice, and by a different process after a lease move, so series are always
# aggregated with max by worker (registry, name, queue), never by job/instance.
# bullmq_worker_instances comes from the fleet view only; it is aggregated the same way.
#
# THRESHOLDS live in the group \`jobwatch-thresholds\` below and nowhere else: each one
# is a constant series that the alerts compare against with \`> on() group_left()\`.
# Change a value there (docs/runbook.md#thresholds lists them with their reasons).
#
#   constant (jobwatch:threshold:...)   default  used by
${row('queue_backlog_jobs', 'BackgroundQueueBacklogTooDeep')}
${row('queue_backlog_growing_min_jobs', 'BackgroundQueueBacklogGrowing')}
${row('job_failure_ratio', 'BackgroundJobFailureRatioHigh')}
${row('queue_oldest_waiting_seconds', 'BackgroundQueueWaitTimeHigh (age of the job next in line)')}
${row('stalled_jobs', 'BackgroundJobsStalled (stalls per 10m above this)')}
${row('job_stuck_seconds', 'BackgroundJobStuck')}
${row('worker_status_changes', 'BackgroundWorkerFlapping (up/down changes per 15m)')}
${row('worker_instances_down', 'BackgroundWorkerInstancesDown (dead + hung above this)')}
#
# Durations that are part of an expression, not a constant:
#   ${config.knownFor.padEnd(4)} how long a worker whose series vanished keeps counting as "known" (and paging)
#   for  per alert, see each rule; tests shorten them with test/helpers/rules-override.ts
groups:
`;
}

function group(name, list) {
  return `  - name: ${name}\n    rules:\n${list.map(rule).join('')}\n`;
}

const indent = (text, spaces) =>
  text
    .split('\n')
    .map((line) => (line ? ' '.repeat(spaces) + line : line))
    .join('\n');

/** A YAML comment of lines at most 88 wide. */
function comment(text, spaces) {
  const lines = [];
  let line = '';
  for (const word of text.split(' ')) {
    if (line && line.length + word.length + 1 > 86) {
      lines.push(line);
      line = word;
    } else line = line ? `${line} ${word}` : word;
  }
  if (line) lines.push(line);
  return lines.map((l) => `${' '.repeat(spaces)}# ${l}\n`).join('');
}

function rule(r) {
  const head = r.record ? `      - record: ${r.record}\n` : `      - alert: ${r.alert}\n`;
  const note = r.comment ? comment(r.comment, r.record ? 6 : 8) : '';
  const expr = r.expr.includes('\n')
    ? `        expr: |\n${indent(r.expr, 10)}\n`
    : `        expr: ${r.expr}\n`;
  const out = r.record ? note + head + expr : head + note + expr;
  if (!r.alert) return out;
  return `${out}${r.for ? `        for: ${r.for}\n` : ''}        labels:
          severity: ${r.severity}
        annotations:
          summary: ${JSON.stringify(r.summary)}
          description: ${JSON.stringify(r.description)}
          runbook_url: ${r.runbook}
`;
}

function main(argv) {
  const arg = (name) => {
    const i = argv.indexOf(name);
    return i === -1 ? undefined : argv[i + 1];
  };
  const file = join(here, 'jobwatch.rules.yml');
  const config = {
    ...defaultConfig,
    groupLabels: (arg('--group-labels') ?? '').split(',').filter(Boolean),
    runbookUrl: arg('--runbook-url') ?? defaultConfig.runbookUrl,
  };
  const bad = config.groupLabels.find((l) => !/^[a-zA-Z_][a-zA-Z0-9_]*$/.test(l));
  if (bad !== undefined) {
    process.stderr.write(
      `--group-labels: "${bad}" is not a Prometheus label name (letters, digits and _, not first a digit)\n`,
    );
    process.exit(2);
  }
  const text = rules(config);
  if (argv.includes('--check')) {
    const committed = readFileSync(arg('--check') ?? file, 'utf8');
    if (committed !== text) {
      process.stderr.write(
        `${arg('--check') ?? file} differs from the generator: run node alerts/rules.mjs\n`,
      );
      process.exit(1);
    }
    return;
  }
  if (argv.includes('--group-labels') || argv.includes('--runbook-url')) process.stdout.write(text);
  else writeFileSync(file, text);
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1])
  main(process.argv.slice(2));
