// The end-to-end stack, natively (no Docker engine here): redis-server, the demo
// API and worker with the jobwatch preload, Prometheus with the shipped rules and
// Alertmanager with the shipped routing, both changed only by the documented test
// override (test/helpers/rules-override.ts). A SIGKILLed worker must page, its
// restart must resolve the page while its dead instance tickets, and a backlog
// nobody works on must ticket.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Queue } from 'bullmq';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AlertmanagerServer, AlertWebhook } from '../helpers/alertmanager.js';
import { waitFor } from '../helpers/ports.js';
import { writeOverriddenRules } from '../helpers/rules-override.js';
import { DemoStack } from './demo-stack.js';

// The settings the closing note reports timings for.
const settings = {
  scrapeAndEvaluationInterval: '1s',
  for: '5s',
  groupWait: '1s',
  groupInterval: '1s',
  heartbeatMs: 300,
  queueBacklogThreshold: 5,
};
const orders = { bullmq_worker_name: 'orders', messaging_destination_name: 'orders' };
const runbook = 'https://github.com/jobwatch/jobwatch/blob/main/docs/runbook.md';

const dir = mkdtempSync(join(tmpdir(), 'jobwatch-e2e-'));
let webhook: AlertWebhook;
let alertmanager: AlertmanagerServer;
let stack: DemoStack;

beforeAll(async () => {
  webhook = await AlertWebhook.start();
  alertmanager = await AlertmanagerServer.startShipped(webhook, settings);
  const rules = writeOverriddenRules(dir, {
    for: settings.for,
    thresholds: { queue_backlog_jobs: settings.queueBacklogThreshold },
  });
  stack = await DemoStack.start({
    ruleFiles: [rules],
    alertmanagers: [alertmanager.address],
    workerEnv: { FAIL_RATE: '0' }, // a healthy worker: no failure-ratio ticket
  });
}, 90_000);

afterAll(async () => {
  await stack?.stop();
  await alertmanager?.stop();
  await webhook?.close();
  rmSync(dir, { recursive: true, force: true });
});

const isWorkerDown = (a: { labels: Record<string, string> }) =>
  a.labels.alertname === 'BackgroundWorkerDown' && a.labels.bullmq_worker_name === 'orders';

describe('the stack end to end', () => {
  it('1. is healthy: the rules see the worker up and no alert is pending or firing', async () => {
    await stack.postOrders(5);
    await waitFor(
      async () => (await stack.prometheus.query('worker_queue:worker_up:max == 1')).length === 1,
      { timeoutMs: 20_000, what: 'the worker up in the recording rule' },
    );
    // On a loaded machine the first scrapes can time out (1 s here), and the shortened `for`
    // (5 s) then lets "no worker reports at all" fire before the worker's first sample; in
    // production that takes the shipped 1m. Such a startup alert resolves once the worker is
    // seen: wait for that, then nothing may fire for longer than `for`.
    await waitFor(async () => (await stack.prometheus.alerts()).length === 0, {
      timeoutMs: 30_000,
      what: 'no alert once the worker is up',
    });
    const startup = webhook.notifications.length;
    const watchUntil = Date.now() + 8000;
    while (Date.now() < watchUntil) {
      expect(await stack.prometheus.alerts()).toEqual([]);
      await new Promise((r) => setTimeout(r, 500));
    }
    const later = webhook.notifications.slice(startup);
    expect(later.filter((n) => n.status === 'firing')).toEqual([]);
  }, 40_000);

  let killedAt = 0;
  it('2. pages BackgroundWorkerDown for the SIGKILLed worker, with labels and annotations', async () => {
    await stack.killWorker();
    killedAt = Date.now();
    const { notification, alert } = await webhook.waitForAlert(
      (a) => isWorkerDown(a) && a.status === 'firing',
      { timeoutMs: 45_000, what: `the BackgroundWorkerDown page (${stack.log()})` },
    );
    console.log(`e2e: SIGKILL → page in ${notification.receivedAt - killedAt} ms`, settings);
    expect(notification.receiver).toBe('page');
    const registry = alert.labels.jobwatch_registry;
    expect(registry).toBe(`redis://127.0.0.1:${stack.redis.port}/0#bull`);
    expect(alert.labels).toEqual({
      alertname: 'BackgroundWorkerDown',
      severity: 'critical',
      jobwatch_registry: registry,
      ...orders,
    });
    expect(alert.annotations).toEqual({
      summary: 'BullMQ worker orders on queue orders is down.',
      description: `No live instance of worker orders (queue orders, registry ${registry}) for at least 1 minute: its instances crashed, were killed or hung, or its worker_status series disappeared.`,
      runbook_url: `${runbook}#backgroundworkerdown`,
    });
    // Not before the `for` window: the page is not a blip.
    expect(notification.receivedAt - killedAt).toBeGreaterThanOrEqual(5000);
  }, 60_000);

  it('3. resolves the page when the worker is started again', async () => {
    const restartedAt = Date.now();
    stack.startWorker();
    const { notification } = await webhook.waitForAlert(
      (a) => isWorkerDown(a) && a.status === 'resolved',
      { timeoutMs: 45_000, what: `the resolved notification (${stack.log()})` },
    );
    console.log(`e2e: restart → resolved in ${notification.receivedAt - restartedAt} ms`);
    expect(notification.receiver).toBe('page');
    expect(notification.status).toBe('resolved');
    const firing = await stack.prometheus.alerts();
    expect(firing.filter(isWorkerDown)).toEqual([]);
  }, 60_000);

  it('3b. tickets the killed instance that stays dead in the registry next to the restarted one', async () => {
    const { notification, alert } = await webhook.waitForAlert(
      (a) => a.labels.alertname === 'BackgroundWorkerInstancesDown' && a.status === 'firing',
      { timeoutMs: 45_000, what: `the InstancesDown ticket (${stack.log()})` },
    );
    expect(notification.receiver).toBe('ticket');
    expect(alert.labels).toEqual({
      alertname: 'BackgroundWorkerInstancesDown',
      severity: 'warning',
      jobwatch_registry: `redis://127.0.0.1:${stack.redis.port}/0#bull`,
      ...orders,
    });
    expect(alert.annotations.description).toMatch(/^1 instances of worker orders \(queue orders\)/);
  }, 60_000);

  it('4. tickets a backlog that no worker takes', async () => {
    // The API also watches a queue nobody consumes (JOBWATCH_QUEUES), and jobs pile up there.
    await stack.restartApi({ JOBWATCH_QUEUES: 'reports' });
    const reports = new Queue('reports', { connection: stack.redis.connection });
    try {
      for (let i = 0; i <= settings.queueBacklogThreshold; i++) await reports.add('monthly', { i });
    } finally {
      await reports.close();
    }
    const { notification, alert } = await webhook.waitForAlert(
      (a) => a.labels.alertname === 'BackgroundQueueBacklogTooDeep' && a.status === 'firing',
      { timeoutMs: 45_000, what: `the backlog ticket (${stack.log()})` },
    );
    expect(notification.receiver).toBe('ticket');
    expect(alert.labels).toEqual({
      alertname: 'BackgroundQueueBacklogTooDeep',
      severity: 'warning',
      jobwatch_registry: `redis://127.0.0.1:${stack.redis.port}/0#bull`,
      messaging_destination_name: 'reports',
    });
    expect(alert.annotations).toEqual({
      summary: 'Queue reports has a deep backlog.',
      description: `Queue reports has had more waiting jobs than its threshold for 15 minutes (${settings.queueBacklogThreshold + 1} now).`,
      runbook_url: `${runbook}#backgroundqueuebacklogtoodeep`,
    });
    // Nobody works on that queue at all: that is a ticket of its own.
    const missing = await webhook.waitForAlert(
      (a) => a.labels.alertname === 'BackgroundWorkerMetricsMissing',
      { what: 'the missing-worker ticket' },
    );
    expect(missing.alert.labels.messaging_destination_name).toBe('reports');
  }, 60_000);
});
