// The shipped Alertmanager config: amtool accepts it, critical alerts page and
// warnings ticket, and a real Alertmanager holds back a dead worker's warnings.
import { spawnSync } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AlertmanagerServer, AlertWebhook } from '../helpers/alertmanager.js';
import { waitFor } from '../helpers/ports.js';
import { shippedAlertmanagerConfig } from '../helpers/rules-override.js';

const amtool = (...args: string[]) => spawnSync('amtool', args, { encoding: 'utf8' });

describe('amtool', () => {
  it('check-config passes', () => {
    const r = amtool('check-config', shippedAlertmanagerConfig);
    expect(r.status, r.stdout + r.stderr).toBe(0);
    expect(r.stdout).toContain('SUCCESS');
  });

  it.each([
    [['alertname=BackgroundWorkerDown', 'severity=critical', 'bullmq_worker_name=mailer'], 'page'],
    [['alertname=BackgroundJobsStalled', 'severity=warning'], 'ticket'],
    [['alertname=SomethingElse'], 'ticket'],
  ])('routes %j to %s', (labels, receiver) => {
    const r = amtool(
      'config',
      'routes',
      'test',
      `--config.file=${shippedAlertmanagerConfig}`,
      ...labels,
    );
    expect(r.status, r.stdout + r.stderr).toBe(0);
    expect(r.stdout.trim()).toBe(receiver);
  });
});

describe('a real Alertmanager with the shipped routing', () => {
  let webhook: AlertWebhook;
  let am: AlertmanagerServer;

  beforeAll(async () => {
    webhook = await AlertWebhook.start();
    am = await AlertmanagerServer.startShipped(webhook, { groupWait: '1s', groupInterval: '1s' });
  });
  afterAll(async () => {
    await am?.stop();
    await webhook?.close();
  });

  it('pages the worker, tickets unrelated warnings, and inhibits the dead worker’s warnings', async () => {
    const down = {
      alertname: 'BackgroundWorkerDown',
      severity: 'critical',
      bullmq_worker_name: 'mailer',
      messaging_destination_name: 'email',
    };
    const stalledSameWorker = {
      alertname: 'BackgroundJobsStalled',
      severity: 'warning',
      bullmq_worker_name: 'mailer',
      messaging_destination_name: 'email',
    };
    const backlogSameQueue = {
      alertname: 'BackgroundQueueBacklogTooDeep',
      severity: 'warning',
      messaging_destination_name: 'email',
    };
    const stalledOtherWorker = {
      alertname: 'BackgroundJobsStalled',
      severity: 'warning',
      bullmq_worker_name: 'resizer',
      messaging_destination_name: 'images',
    };
    await am.post([down].map((labels) => ({ labels })));
    // The source must be active before its targets arrive, as with Prometheus' `for`.
    await webhook.waitForAlert((a) => a.labels.alertname === 'BackgroundWorkerDown', {
      what: 'the page',
    });
    await am.post(
      [down, stalledSameWorker, backlogSameQueue, stalledOtherWorker].map((labels) => ({ labels })),
    );

    const { notification } = await webhook.waitForAlert(
      (a) => a.labels.bullmq_worker_name === 'resizer',
      { what: 'the ticket for the other worker' },
    );
    expect(notification.receiver).toBe('ticket');
    expect(notification.groupLabels).toEqual({
      alertname: 'BackgroundJobsStalled',
      bullmq_worker_name: 'resizer',
      messaging_destination_name: 'images',
    });

    const page = webhook.notifications.find((n) =>
      n.alerts.some((a) => a.labels.alertname === 'BackgroundWorkerDown'),
    );
    expect(page?.receiver).toBe('page');

    const states = await waitFor(
      async () => {
        const held = await am.alerts();
        const suppressed = held
          .filter((a) => a.status.state === 'suppressed')
          .map((a) => a.labels.alertname);
        return suppressed.length === 2 ? held : undefined;
      },
      { what: 'two suppressed alerts' },
    );
    const stateOf = (labels: Record<string, string>) =>
      states.find((a) => Object.entries(labels).every(([k, v]) => a.labels[k] === v))?.status.state;
    expect(stateOf(stalledSameWorker)).toBe('suppressed');
    expect(stateOf(backlogSameQueue)).toBe('suppressed');
    expect(stateOf(stalledOtherWorker)).toBe('active');
    const notified = webhook.notifications.flatMap((n) =>
      n.alerts.map((a) => a.labels.alertname + (a.labels.bullmq_worker_name ?? '')),
    );
    expect(notified).not.toContain('BackgroundJobsStalledmailer');
    expect(notified).not.toContain('BackgroundQueueBacklogTooDeep');
  });
});
