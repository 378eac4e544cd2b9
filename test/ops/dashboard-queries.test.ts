// Every query of the dashboard and of the Grafana-managed alert, sent to a real
// Prometheus that scrapes the real demo worker and API (with the jobwatch
// preload) while they process orders. Grafana would show an error for any query
// Prometheus rejects, and an empty panel for one that matches no metric name.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { waitFor } from '../helpers/ports.js';
import { shippedRules } from '../helpers/rules-override.js';
import { DemoStack } from './demo-stack.js';
import { dashboard, grafanaAlerts } from './stack-files.js';

// What Grafana substitutes, with every variable on "All".
const substitute = (expr: string) =>
  expr
    .replaceAll('$registry', '.*')
    .replaceAll('$worker', '.*')
    .replaceAll('$job', '.*')
    .replaceAll('$queue', '.*')
    .replaceAll('$__rate_interval', '10s');

const panels = dashboard.panels as {
  title: string;
  targets: { expr: string; instant?: boolean }[];
}[];
const queries = panels.flatMap((p) =>
  p.targets.map(
    (t, i) => [`${p.title} #${i + 1}`, substitute(t.expr), t.instant === true] as const,
  ),
);

const ORDERS = { bullmq_worker_name: 'orders', messaging_destination_name: 'orders' };

let stack: DemoStack;
let traffic: NodeJS.Timeout;

beforeAll(async () => {
  stack = await DemoStack.start({ ruleFiles: [shippedRules] });
  traffic = setInterval(() => stack.postOrders(3).catch(() => {}), 250);
  // Two scrapes of both processes after jobs ran, so that rate() has something to say.
  const bothRates =
    '(sum(rate(messaging_process_duration_seconds_count[10s])) > 0) and (sum(rate(messaging_client_sent_messages_total[10s])) > 0)';
  await waitFor(async () => (await stack.prometheus.query(bothRates)).length > 0, {
    timeoutMs: 45_000,
    what: `processed jobs in Prometheus (${stack.log()})`,
  });
}, 90_000);

afterAll(async () => {
  clearInterval(traffic);
  await stack?.stop();
});

describe('dashboard queries on a real Prometheus with a real worker', () => {
  // A healthy demo never stalls a job and never has a heartbeat refused. Every other
  // query must find its metric.
  const mayBeEmpty = new Set(['Retries, failures and stalls #3', 'Heartbeat errors #1']);
  it.each(queries)('%s is accepted and returns data: %s', async (name, expr, instant) => {
    const found = instant
      ? await stack.prometheus.query(expr)
      : await stack.prometheus.queryRange(expr, 60);
    if (!mayBeEmpty.has(name)) expect(found.length, name).toBeGreaterThan(0);
  });

  it.each([
    ['Worker status', { bullmq_worker_name: 'orders', messaging_destination_name: 'orders' }],
    ['Queue depth by state', { messaging_destination_name: 'orders', bullmq_job_state: 'waiting' }],
    ['Throughput', { messaging_destination_name: 'orders' }],
    ['Process duration p50 / p95 / p99', { messaging_destination_name: 'orders' }],
    ['Failure ratio', { bullmq_worker_name: 'orders', messaging_destination_name: 'orders' }],
    ['Wait time p95', { messaging_destination_name: 'orders' }],
    ['Oldest active job', { bullmq_worker_name: 'orders', messaging_destination_name: 'orders' }],
    [
      'Worker instances by state',
      {
        bullmq_worker_name: 'orders',
        messaging_destination_name: 'orders',
        bullmq_worker_state: 'running',
      },
    ],
  ])('%s shows the demo queue', async (title, labels) => {
    const panel = panels.find((p) => p.title === title)!;
    const series = await stack.prometheus.queryRange(substitute(panel.targets[0]!.expr), 60);
    const match = series.find((s) => Object.entries(labels).every(([k, v]) => s.metric[k] === v));
    expect(match, `${title}: ${JSON.stringify(series.map((s) => s.metric))}`).toBeDefined();
  });

  it('shows the worker RUNNING and counts it as up', async () => {
    const status = panels.find((p) => p.title === 'Worker status')!.targets[0]!.expr;
    expect(await stack.prometheus.query(substitute(status))).toEqual([
      { metric: { ...ORDERS, jobwatch_registry: expect.stringMatching(/^redis:/) }, value: 1 },
    ]);
    const [up, down] = panels.find((p) => p.title === 'Workers up now')!.targets;
    expect((await stack.prometheus.query(substitute(up!.expr)))[0]!.value).toBe(1);
    expect((await stack.prometheus.query(substitute(down!.expr)))[0]!.value).toBe(0);
  });

  it('draws the alert thresholds from the loaded rules', async () => {
    for (const expr of queries.map(([, e]) => e).filter((e) => e.startsWith('jobwatch:threshold:')))
      expect(await stack.prometheus.query(expr), expr).toHaveLength(1);
  });

  it('fills the registry, worker, queue, job and trace-service variables', async () => {
    const vars = dashboard.templating.list.filter((v: any) => v.type === 'query');
    const values = new Map<string, string[]>();
    for (const v of vars) {
      const [, selector, label] = /^label_values\((.+),\s*(\w+)\)$/.exec(v.definition)!;
      values.set(
        v.name,
        await stack.prometheus.api<string[]>(`label/${label}/values`, {
          'match[]': substitute(selector!),
        }),
      );
    }
    expect(values.get('registry')).toEqual([
      expect.stringMatching(/^redis:\/\/127\.0\.0\.1:\d+\/0#bull$/),
    ]);
    expect(values.get('worker')).toContain('orders');
    expect(values.get('job')).toEqual(expect.arrayContaining(['demo-api', 'demo-worker']));
    expect(values.get('queue')).toContain('orders');
    expect(values.get('trace_service')).toContain('demo-worker');
  });

  it('answers the Grafana-managed BackgroundWorkerDown query with the live worker', async () => {
    const rule = grafanaAlerts.groups[0].rules[0];
    const query = rule.data.find((d: any) => d.datasourceUid === 'prometheus').model.expr;
    expect(await stack.prometheus.query(query)).toEqual([
      { metric: { ...ORDERS, jobwatch_registry: expect.stringMatching(/^redis:/) }, value: 1 },
    ]);
  });
});
