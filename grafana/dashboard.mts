// The jobwatch dashboard as code: grafana/dashboards/jobwatch.json is generated
// from this file with Grafana's Foundation SDK, and never edited by hand.
//
//   node grafana/dashboard.mts           rewrites grafana/dashboards/jobwatch.json
//   node grafana/dashboard.mts --check   exits 1 when the committed JSON differs
//                                        (or a given file: --check other.json)
//
// Every alert in alerts/jobwatch.rules.yml has a panel that shows its signal (and its
// threshold, drawn from the loaded rules as a dashed line); the panel's description
// names the alert. test/ops/dashboard*.test.ts check the output.
// biome-ignore-all lint/suspicious/noTemplateCurlyInString: ${…} is Grafana's variable syntax here
import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type * as cog from '@grafana/grafana-foundation-sdk/cog';
import {
  BigValueColorMode,
  BigValueGraphMode,
  BigValueTextMode,
  GraphDrawStyle,
  LegendDisplayMode,
  LegendPlacement,
  ReduceDataOptionsBuilder,
  SortOrder,
  TooltipDisplayMode,
  VisibilityMode,
  VizLegendOptionsBuilder,
  VizTooltipOptionsBuilder,
} from '@grafana/grafana-foundation-sdk/common';
import {
  DashboardBuilder,
  DashboardLinkBuilder,
  DashboardLinkType,
  type DataSourceRef,
  DatasourceVariableBuilder,
  type DynamicConfigValue,
  FieldColorBuilder,
  FieldColorModeId,
  type GridPos,
  MappingType,
  QueryVariableBuilder,
  ThresholdsConfigBuilder,
  ThresholdsMode,
  VariableRefresh,
  VariableSort,
} from '@grafana/grafana-foundation-sdk/dashboard';
import { DataqueryBuilder } from '@grafana/grafana-foundation-sdk/prometheus';
import * as stat from '@grafana/grafana-foundation-sdk/stat';
import * as statetimeline from '@grafana/grafana-foundation-sdk/statetimeline';
import * as timeseries from '@grafana/grafana-foundation-sdk/timeseries';

const RUNBOOK = 'https://github.com/jobwatch/jobwatch/blob/main/docs/runbook.md';
/** The stack's logs store (docker-compose.yml, service victorialogs), as a browser reaches it. */
const LOGS_UI = 'http://localhost:9428';
const prometheus: DataSourceRef = { type: 'prometheus', uid: '${datasource}' };

// What identifies a worker and a queue (as in the alert rules): the registry it
// lives in, its name, its queue. Panels filter on these, never on the job or
// instance that exports a series: a worker's 0 often comes from another process
// (the fleet view) than its 1, and filtering by process would hide it.
const W = 'jobwatch_registry, bullmq_worker_name, messaging_destination_name';
const Q = 'jobwatch_registry, messaging_destination_name';
const filters = (labels: string[], extra: string) =>
  `{${[...labels, ...(extra ? [extra] : [])].join(', ')}}`;
const REGISTRY = 'jobwatch_registry=~"$registry"';
const WORKER = 'bullmq_worker_name=~"$worker"';
const QUEUE = 'messaging_destination_name=~"$queue"';
/** A worker's series (registry-derived gauges). */
const workerSel = (metric: string, extra = '') =>
  metric + filters([REGISTRY, WORKER, QUEUE], extra);
/** A queue's series (queue depth). */
const queueSel = (metric: string, extra = '') => metric + filters([REGISTRY, QUEUE], extra);
/** The job instruments, which carry no registry. */
const jobSel = (metric: string, extra = '') => metric + filters([WORKER, QUEUE], extra);
const perWorker = (inner: string) => `max by (${W}) (${inner})`;
const perQueue = (inner: string, extra = '') =>
  `max by (${Q}${extra ? `, ${extra}` : ''}) (${inner})`;
const rate = (metric: string, by: string, extra = '') =>
  `sum by (${by}) (rate(${jobSel(metric, extra)}[$__rate_interval]))`;
const quantile = (q: string, metric: string) =>
  `histogram_quantile(${q}, sum by (le, messaging_destination_name) (rate(${jobSel(metric)}[$__rate_interval])))`;
const WORKER_LEGEND =
  '{{bullmq_worker_name}} ({{messaging_destination_name}}) {{jobwatch_registry}}';
const QUEUE_LEGEND = '{{messaging_destination_name}} {{jobwatch_registry}}';

/** The states of bullmq_worker_state, best first, as the codes the state timeline maps. */
const STATES = [
  ['running', 'RUNNING', 'green'],
  ['paused', 'PAUSED', 'blue'],
  ['hung', 'HUNG', 'orange'],
  ['dead', 'DEAD', 'red'],
  ['stopped', 'STOPPED', 'text'],
] as const;
/** Each worker's state as a code (1 running … 5 stopped): the best state any process reports. */
const stateCode = STATES.map(
  ([state], i) =>
    `${perWorker(`${workerSel('bullmq_worker_state', `bullmq_worker_state="${state}"`)} == 1`)} * ${i + 1}`,
).join(' or ');
/** Down as the rules say: status 0, and not because every reporter says it stopped on purpose. */
const stoppedOnly = `(${perWorker(workerSel('bullmq_worker_state', 'bullmq_worker_state="stopped"'))} == 1 unless on (${W}) ${perWorker(workerSel('bullmq_worker_state', 'bullmq_worker_state=~"dead|hung"'))} == 1)`;

function query(refId: string, expr: string, legendFormat: string, instant = false) {
  const q = new DataqueryBuilder()
    .refId(refId)
    .datasource(prometheus)
    .expr(expr)
    .legendFormat(legendFormat);
  return instant ? q.instant() : q.range();
}

/** The dashed red line of an alert threshold constant (jobwatch:threshold:*). */
const thresholdQuery = (refId: string, name: string) =>
  query(refId, `jobwatch:threshold:${name}`, 'alert threshold');
const thresholdStyle: DynamicConfigValue[] = [
  { id: 'custom.lineStyle', value: { fill: 'dash', dash: [10, 10] } },
  { id: 'color', value: { mode: 'fixed', fixedColor: 'red' } },
  { id: 'custom.fillOpacity', value: 0 },
];
const fixedColor = (color: string): DynamicConfigValue[] => [
  { id: 'color', value: { mode: 'fixed', fixedColor: color } },
];

/** Opens the worker's traces in the Jaeger datasource, for the clicked series' queue. */
const traceLink = new DashboardLinkBuilder(
  'Traces of ${__field.labels.bullmq_worker_name} (queue ${__field.labels.messaging_destination_name})',
)
  .type(DashboardLinkType.Link)
  .url(
    `/explore?left=${encodeURIComponent(
      JSON.stringify({
        datasource: 'jaeger',
        queries: [
          {
            refId: 'A',
            datasource: { type: 'jaeger', uid: 'jaeger' },
            queryType: 'search',
            service: 'TRACE_SERVICE',
            tags: 'messaging.destination.name=QUEUE',
          },
        ],
        range: { from: 'FROM', to: 'TO' },
      }),
    )
      .replace('TRACE_SERVICE', '${trace_service:percentencode}')
      .replace('QUEUE', '${__field.labels.messaging_destination_name:percentencode}')
      .replace('FROM', '${__from}')
      .replace('TO', '${__to}')}`,
  )
  .targetBlank(true);

/**
 * Opens the worker's lifecycle events (started, hung, dead, stopped, … as the
 * fleet view recorded them) in the stack's logs store, VictoriaLogs' own UI.
 */
const eventsLink = new DashboardLinkBuilder(
  'Lifecycle events of ${__field.labels.bullmq_worker_name} (queue ${__field.labels.messaging_destination_name})',
)
  .type(DashboardLinkType.Link)
  .url(
    `${LOGS_UI}/select/vmui/#/?query=${encodeURIComponent('bullmq.worker.name:"WORKER" AND messaging.destination.name:"QUEUE"')}`
      .replace('WORKER', '${__field.labels.bullmq_worker_name:percentencode}')
      .replace('QUEUE', '${__field.labels.messaging_destination_name:percentencode}'),
  )
  .targetBlank(true);

interface Graph {
  id: number;
  title: string;
  description: string;
  unit: string;
  at: GridPos;
  targets: cog.Builder<cog.Dataquery>[];
  min?: number;
  traces?: boolean;
}

function graph(g: Graph) {
  const p = new timeseries.PanelBuilder()
    .id(g.id)
    .title(g.title)
    .description(g.description)
    .datasource(prometheus)
    .gridPos(g.at)
    .unit(g.unit)
    .drawStyle(GraphDrawStyle.Line)
    .lineWidth(1)
    .fillOpacity(10)
    .showPoints(VisibilityMode.Never)
    .legend(
      new VizLegendOptionsBuilder()
        .displayMode(LegendDisplayMode.Table)
        .placement(LegendPlacement.Right)
        .showLegend(true)
        .calcs(['lastNotNull', 'max']),
    )
    .tooltip(
      new VizTooltipOptionsBuilder().mode(TooltipDisplayMode.Multi).sort(SortOrder.Descending),
    )
    .overrideByName('alert threshold', thresholdStyle);
  for (const t of g.targets) p.withTarget(t);
  if (g.min !== undefined) p.min(g.min);
  if (g.traces) p.dataLinks([traceLink]);
  return p;
}

const at = (x: number, y: number, w: number, h: number): GridPos => ({ x, y, w, h });

function workersUpNow() {
  const status = perWorker(workerSel('worker_status'));
  return new stat.PanelBuilder()
    .id(1)
    .title('Workers up now')
    .description(
      'Workers (registry, name, queue) with at least one live instance; down (every instance dead or hung: what pages); and stopped on purpose (does not page). A worker is reported by its own process and by the elected fleet view, so series are aggregated with max. Alert: BackgroundWorkerDown.',
    )
    .datasource(prometheus)
    .gridPos(at(0, 0, 6, 6))
    .withTarget(query('A', `count(${status} == 1) or vector(0)`, 'up', true))
    .withTarget(
      query(
        'B',
        `count(${status} == 0 unless on (${W}) ${stoppedOnly}) or vector(0)`,
        'down',
        true,
      ),
    )
    .withTarget(
      query(
        'C',
        `count(${status} == 0 and on (${W}) ${stoppedOnly}) or vector(0)`,
        'stopped',
        true,
      ),
    )
    .unit('none')
    .decimals(0)
    .colorScheme(new FieldColorBuilder().mode(FieldColorModeId.Fixed))
    .overrideByName('up', fixedColor('green'))
    .overrideByName('down', fixedColor('red'))
    .overrideByName('stopped', fixedColor('text'))
    .reduceOptions(new ReduceDataOptionsBuilder().calcs(['lastNotNull']).fields('').values(false))
    .colorMode(BigValueColorMode.Background)
    .graphMode(BigValueGraphMode.None)
    .textMode(BigValueTextMode.ValueAndName);
}

function workerStatus() {
  return new statetimeline.PanelBuilder()
    .id(2)
    .title('Worker status')
    .description(
      'The state of each worker (bullmq_worker_state, the best of its instances): RUNNING, PAUSED (worker.pause(): alive, not taking jobs), HUNG (alive but making no progress: a stuck job or a wedged fetch loop), DEAD (its heartbeats stopped: killed, crashed, frozen), STOPPED (worker.close(): planned, never pages). worker_status is 1 for RUNNING and PAUSED. A gap means no jobwatch process reports the worker any more (BackgroundWorkerDown counts that as down unless it last said STOPPED). Alerts: BackgroundWorkerDown (HUNG or DEAD, or gone); with Worker instances by state, BackgroundWorkerInstancesDown. Click a worker for its traces (in the service chosen as Trace service), or for its lifecycle events (started, hung, dead, stopped, with the reason) in the stack’s logs store.',
    )
    .datasource(prometheus)
    .gridPos(at(6, 0, 18, 6))
    .withTarget(query('A', stateCode, WORKER_LEGEND))
    .withTarget(query('B', perWorker(workerSel('worker_status')), `status ${WORKER_LEGEND}`))
    .mappings([
      {
        type: MappingType.ValueToText,
        options: Object.fromEntries(
          STATES.map(([, text, color], i) => [String(i + 1), { text, color, index: i }]),
        ),
      },
    ])
    .overrideByRegexp('^status ', [
      { id: 'custom.hideFrom', value: { legend: true, tooltip: true, viz: true } },
    ])
    .colorScheme(new FieldColorBuilder().mode(FieldColorModeId.Thresholds))
    .thresholds(
      new ThresholdsConfigBuilder()
        .mode(ThresholdsMode.Absolute)
        .steps([{ value: null, color: 'green' }]),
    )
    .dataLinks([traceLink, eventsLink])
    .showValue(VisibilityMode.Auto)
    .mergeValues(true)
    .rowHeight(0.8)
    .legend(new VizLegendOptionsBuilder().showLegend(false));
}

const backlog = `sum by (${Q}) (${perQueue(queueSel('bullmq_queue_jobs', 'bullmq_job_state=~"waiting|prioritized"'), 'bullmq_job_state')})`;
const queuesWithoutWorkers = `count(${perQueue(queueSel('bullmq_queue_jobs'))} unless on (${Q}) ${perQueue(`max_over_time(${queueSel('worker_status')}[1h])`)}) or vector(0)`;

function queuesWithoutWorkerMetrics() {
  return new stat.PanelBuilder()
    .id(15)
    .title('Queues without worker metrics')
    .description(
      'Queues whose depth is reported but for which no worker has reported worker_status within the last hour: nothing consumes them, or their workers run without jobwatch. Alert: BackgroundWorkerMetricsMissing.',
    )
    .datasource(prometheus)
    .gridPos(at(0, 54, 6, 6))
    .withTarget(query('A', queuesWithoutWorkers, 'queues', true))
    .unit('none')
    .decimals(0)
    .colorScheme(new FieldColorBuilder().mode(FieldColorModeId.Thresholds))
    .thresholds(
      new ThresholdsConfigBuilder().mode(ThresholdsMode.Absolute).steps([
        { value: null, color: 'green' },
        { value: 1, color: 'orange' },
      ]),
    )
    .reduceOptions(new ReduceDataOptionsBuilder().calcs(['lastNotNull']).fields('').values(false))
    .colorMode(BigValueColorMode.Background)
    .graphMode(BigValueGraphMode.None)
    .textMode(BigValueTextMode.Value);
}

const graphs: Graph[] = [
  {
    id: 3,
    title: 'Worker instances by state',
    description:
      'Instances per worker and state (running, paused, hung, dead, stopped), from the elected fleet view. Dead or hung instances while the worker is still up: Alert: BackgroundWorkerInstancesDown. Dead entries stay for the registry retention (default 15 minutes).',
    unit: 'none',
    at: at(0, 6, 12, 8),
    min: 0,
    targets: [
      query(
        'A',
        `max by (${W}, bullmq_worker_state) (${workerSel('bullmq_worker_instances')})`,
        `${WORKER_LEGEND} {{bullmq_worker_state}}`,
      ),
      thresholdQuery('B', 'worker_instances_down'),
    ],
  },
  {
    id: 4,
    title: 'Worker status changes (15m)',
    description:
      'How often the reported status of each worker changed between 1 and 0 in the last 15 minutes (from the rules’ worker_queue:worker_status:max, so only when the rules are loaded); series that vanish and come back are not changes. Alert: BackgroundWorkerFlapping.',
    unit: 'none',
    at: at(12, 6, 12, 8),
    min: 0,
    targets: [
      query(
        'A',
        `changes(worker_queue:worker_status:max${filters([REGISTRY, WORKER, QUEUE], '')}[15m])`,
        WORKER_LEGEND,
      ),
      thresholdQuery('B', 'worker_status_changes'),
    ],
  },
  {
    id: 5,
    title: 'Queue depth by state',
    description:
      'Jobs per state, as BullMQ counts them (completed is left out: it only grows). Every process that uses a queue reports the same counts, so they are aggregated with max.',
    unit: 'none',
    at: at(0, 14, 12, 8),
    min: 0,
    targets: [
      query(
        'A',
        perQueue(
          queueSel('bullmq_queue_jobs', 'bullmq_job_state!="completed"'),
          'bullmq_job_state',
        ),
        `${QUEUE_LEGEND} {{bullmq_job_state}}`,
      ),
    ],
  },
  {
    id: 6,
    title: 'Throughput',
    description: 'Jobs added (enqueued) and processing attempts (processed) per second.',
    unit: 'ops',
    at: at(12, 14, 12, 8),
    min: 0,
    targets: [
      query(
        'A',
        rate('messaging_client_sent_messages_total', 'messaging_destination_name'),
        'enqueued {{messaging_destination_name}}',
      ),
      query(
        'B',
        rate('messaging_client_consumed_messages_total', 'messaging_destination_name'),
        'processed {{messaging_destination_name}}',
      ),
    ],
  },
  {
    id: 7,
    title: 'Backlog (waiting + prioritized)',
    description:
      'Jobs ready to run and not yet picked up; paused and delayed jobs are intentional and left out. Alerts: BackgroundQueueBacklogTooDeep (above the threshold for 15m) and BackgroundQueueBacklogGrowing (growing for 15m above the floor).',
    unit: 'none',
    at: at(0, 22, 12, 8),
    min: 0,
    targets: [
      query('A', backlog, QUEUE_LEGEND),
      thresholdQuery('B', 'queue_backlog_jobs'),
      thresholdQuery('C', 'queue_backlog_growing_min_jobs'),
    ],
  },
  {
    id: 8,
    title: 'Heartbeat errors',
    description:
      'Heartbeat writes that the registry refused, per process and reason (ACL, OOM, read-only, cluster slots, network). A process with errors here is invisible to the fleet: its crash would not be detected. Alert: BackgroundWorkerHeartbeatFailing. Empty while all is well.',
    unit: 'ops',
    at: at(12, 22, 12, 8),
    min: 0,
    targets: [
      query(
        'A',
        'sum by (job, instance, reason) (rate(bullmq_worker_heartbeat_errors_total{job=~"$job"}[$__rate_interval]))',
        '{{instance}} {{reason}}',
      ),
    ],
  },
  {
    id: 9,
    title: 'Failure ratio',
    description:
      'Failed attempts over all attempts. The dashed line is the threshold (from the alert rules, when loaded). Alert: BackgroundJobFailureRatioHigh.',
    unit: 'percentunit',
    at: at(0, 30, 12, 8),
    min: 0,
    traces: true,
    targets: [
      query(
        'A',
        `${rate('messaging_client_consumed_messages_total', 'bullmq_worker_name, messaging_destination_name', 'error_type!=""')} / ${rate('messaging_client_consumed_messages_total', 'bullmq_worker_name, messaging_destination_name')}`,
        WORKER_LEGEND,
      ),
      thresholdQuery('B', 'job_failure_ratio'),
    ],
  },
  {
    id: 10,
    title: 'Process duration p50 / p95 / p99',
    description: 'Per attempt, from the processor start to the job’s move to completed or failed.',
    unit: 's',
    at: at(12, 30, 12, 8),
    min: 0,
    targets: [
      query(
        'A',
        quantile('0.5', 'messaging_process_duration_seconds_bucket'),
        'p50 {{messaging_destination_name}}',
      ),
      query(
        'B',
        quantile('0.95', 'messaging_process_duration_seconds_bucket'),
        'p95 {{messaging_destination_name}}',
      ),
      query(
        'C',
        quantile('0.99', 'messaging_process_duration_seconds_bucket'),
        'p99 {{messaging_destination_name}}',
      ),
    ],
  },
  {
    id: 11,
    title: 'Wait time p95',
    description:
      'From when a job became ready to its first processing start, over the jobs picked up (a queue that nothing consumes shows nothing here: see Oldest waiting job).',
    unit: 's',
    at: at(0, 38, 12, 8),
    min: 0,
    targets: [
      query(
        'A',
        quantile('0.95', 'bullmq_job_wait_duration_seconds_bucket'),
        'p95 {{messaging_destination_name}}',
      ),
    ],
  },
  {
    id: 12,
    title: 'Retries, failures and stalls',
    description:
      'Failed attempts that BullMQ retries, jobs that failed for good, and stalled jobs (a worker died or blocked its event loop holding them). Alert: BackgroundJobsStalled, for any stall above the dashed threshold (0) in 10 minutes.',
    unit: 'ops',
    at: at(12, 38, 12, 8),
    min: 0,
    targets: [
      query(
        'A',
        rate('bullmq_job_retries_total', 'messaging_destination_name'),
        'retries {{messaging_destination_name}}',
      ),
      query(
        'B',
        rate('bullmq_job_failures_total', 'messaging_destination_name'),
        'failed for good {{messaging_destination_name}}',
      ),
      query(
        'C',
        rate('bullmq_job_stalled_total', 'messaging_destination_name'),
        'stalled {{messaging_destination_name}}',
      ),
      thresholdQuery('D', 'stalled_jobs'),
    ],
  },
  {
    id: 16,
    title: 'Oldest waiting job',
    description:
      'How long the job next in line has been ready to run, per queue; it climbs while nothing consumes the queue. Alert: BackgroundQueueWaitTimeHigh.',
    unit: 's',
    at: at(12, 54, 12, 6),
    min: 0,
    targets: [
      query('A', perQueue(queueSel('bullmq_queue_oldest_waiting_job_age_seconds')), QUEUE_LEGEND),
      thresholdQuery('B', 'queue_oldest_waiting_seconds'),
    ],
  },
  {
    id: 13,
    title: 'Oldest active job',
    description:
      'Age of the longest-running active job per worker; a line that only climbs is a stuck job. Alert: BackgroundJobStuck.',
    unit: 's',
    at: at(0, 46, 12, 8),
    traces: true,
    targets: [
      query(
        'A',
        perWorker(workerSel('bullmq_worker_oldest_active_job_age_seconds')),
        WORKER_LEGEND,
      ),
      thresholdQuery('B', 'job_stuck_seconds'),
    ],
  },
  {
    id: 14,
    title: 'Active jobs',
    description: 'Jobs each worker is processing now.',
    unit: 'none',
    at: at(12, 46, 12, 8),
    min: 0,
    targets: [query('A', perWorker(workerSel('bullmq_worker_active_jobs')), WORKER_LEGEND)],
  },
];

function variable(name: string, label: string, definition: string, all: boolean) {
  const v = new QueryVariableBuilder(name)
    .label(label)
    .datasource(prometheus)
    .query({ qryType: 1, query: definition, refId: `${name}-var` })
    .definition(definition)
    .refresh(VariableRefresh.OnTimeRangeChanged)
    .sort(VariableSort.AlphabeticalAsc)
    .includeAll(all)
    .multi(all);
  return all
    ? v.allValue('.*').current({ text: ['All'], value: ['$__all'] })
    : v.current({ text: '', value: '' });
}

export function buildDashboard() {
  const d = new DashboardBuilder('jobwatch: BullMQ workers and queues')
    .uid('jobwatch-bullmq')
    .description(
      'Worker health, queue depth, throughput, failures and latency from jobwatch; a panel for every alert. Alerts: alerts/jobwatch.rules.yml; runbook: docs/runbook.md. Generated by grafana/dashboard.mts.',
    )
    .tags(['jobwatch', 'bullmq'])
    .editable()
    .tooltip(1)
    .refresh('30s')
    .time({ from: 'now-1h', to: 'now' })
    .timezone('browser')
    .link(
      new DashboardLinkBuilder('Traces (Jaeger)')
        .type(DashboardLinkType.Link)
        .url(
          `/explore?left=${encodeURIComponent(JSON.stringify({ datasource: 'jaeger', queries: [{ refId: 'A', queryType: 'search' }] }))}`,
        )
        .targetBlank(true)
        .icon('external link'),
    )
    .link(
      new DashboardLinkBuilder('Runbook')
        .type(DashboardLinkType.Link)
        .url(RUNBOOK)
        .targetBlank(true)
        .icon('doc'),
    )
    .withVariable(
      new DatasourceVariableBuilder('datasource')
        .label('Data source')
        .type('prometheus')
        .current({ text: 'Prometheus', value: 'prometheus' }),
    )
    .withVariable(
      variable('registry', 'Registry', 'label_values(worker_status, jobwatch_registry)', true),
    )
    .withVariable(
      variable(
        'worker',
        'Worker',
        'label_values(worker_status{jobwatch_registry=~"$registry"}, bullmq_worker_name)',
        true,
      ),
    )
    .withVariable(
      variable(
        'queue',
        'Queue',
        'label_values({__name__=~"worker_status|bullmq_queue_jobs", jobwatch_registry=~"$registry"}, messaging_destination_name)',
        true,
      ),
    )
    .withVariable(
      variable(
        'job',
        'Process job',
        'label_values(bullmq_worker_heartbeat_errors_total, job)',
        true,
      ),
    )
    .withVariable(
      variable('trace_service', 'Trace service', 'label_values(target_info, job)', false),
    )
    .withPanel(workersUpNow())
    .withPanel(workerStatus());
  for (const g of graphs) d.withPanel(graph(g));
  d.withPanel(queuesWithoutWorkerMetrics());
  return d.build();
}

export const dashboardFile = fileURLToPath(new URL('dashboards/jobwatch.json', import.meta.url));
export const render = () => `${JSON.stringify(buildDashboard(), null, 2)}\n`;

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const check = process.argv.indexOf('--check');
  if (check !== -1) {
    const file = process.argv[check + 1] ?? dashboardFile;
    if (readFileSync(file, 'utf8') !== render()) {
      console.error(`${file} differs from grafana/dashboard.mts: run node grafana/dashboard.mts`);
      process.exit(1);
    }
  } else {
    writeFileSync(dashboardFile, render());
  }
}
