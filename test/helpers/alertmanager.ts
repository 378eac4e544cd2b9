// A real Alertmanager on a free port, and the project's alert receiver
// (examples/alert-receiver.mjs) recording what it is sent, for tests of routing,
// inhibition and end-to-end notifications.
import { join } from 'node:path';
import { startAlertReceiver, type WebhookNotification } from '../../examples/alert-receiver.mjs';
import { Daemon } from './daemon.js';
import { waitFor } from './ports.js';
import { overriddenAlertmanagerConfig } from './rules-override.js';

/** One alert inside a webhook notification (Alertmanager's webhook payload, version 4). */
export type NotifiedAlert = WebhookNotification['alerts'][number];

export interface Notification extends WebhookNotification {
  /** Date.now() when the receiver got it. */
  receivedAt: number;
}

export class AlertWebhook {
  private constructor(
    private readonly receiver: { url: string; close: () => Promise<void> },
    readonly notifications: Notification[],
  ) {}

  static async start(): Promise<AlertWebhook> {
    const notifications: Notification[] = [];
    const receiver = await startAlertReceiver({
      onNotification: (n) => notifications.push({ ...n, receivedAt: Date.now() }),
    });
    return new AlertWebhook(receiver, notifications);
  }

  /** URL for a receiver; the path names it so tests can tell page from ticket. */
  url(path: string): string {
    return `${this.receiver.url}/${path}`;
  }

  /** Waits for a notification with an alert that satisfies `match`, and returns both. */
  async waitForAlert(
    match: (alert: NotifiedAlert, n: Notification) => boolean,
    { timeoutMs = 30_000, what = 'a matching notification' } = {},
  ): Promise<{ notification: Notification; alert: NotifiedAlert }> {
    return waitFor(
      () => {
        for (const notification of this.notifications)
          for (const alert of notification.alerts)
            if (match(alert, notification)) return { notification, alert };
        return undefined;
      },
      { timeoutMs, intervalMs: 100, what },
    );
  }

  close(): Promise<void> {
    return this.receiver.close();
  }
}

export class AlertmanagerServer extends Daemon {
  /** Starts Alertmanager with the given config text (see rules-override.ts). */
  static async start(configYaml: string): Promise<AlertmanagerServer> {
    return new AlertmanagerServer(
      await Daemon.launch({
        command: 'prometheus-alertmanager',
        configName: 'alertmanager.yml',
        configText: configYaml,
        args: (dir, configFile, port) => [
          `--config.file=${configFile}`,
          `--storage.path=${join(dir, 'data')}`,
          `--web.listen-address=127.0.0.1:${port}`,
          '--cluster.listen-address=', // no gossip port: a single, isolated instance
          '--log.level=warn',
        ],
      }),
    );
  }

  /**
   * The shipped config (alerts/alertmanager.yml) with both receivers pointed at
   * `webhook` (paths /page and /ticket) and the given grouping timings.
   */
  static startShipped(
    webhook: AlertWebhook,
    timings: { groupWait: string; groupInterval: string },
  ): Promise<AlertmanagerServer> {
    return AlertmanagerServer.start(
      overriddenAlertmanagerConfig({
        webhooks: { page: webhook.url('page'), ticket: webhook.url('ticket') },
        groupWait: timings.groupWait,
        groupInterval: timings.groupInterval,
      }),
    );
  }

  /** Sends alerts as Prometheus would (POST /api/v2/alerts). */
  async post(
    alerts: { labels: Record<string, string>; annotations?: Record<string, string> }[],
  ): Promise<void> {
    const res = await fetch(`${this.url}/api/v2/alerts`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(alerts),
    });
    if (!res.ok) throw new Error(`alertmanager refused alerts: ${res.status} ${await res.text()}`);
  }

  /** Alerts as Alertmanager holds them, with their state (active, suppressed). */
  async alerts(): Promise<
    { labels: Record<string, string>; status: { state: string; inhibitedBy: string[] } }[]
  > {
    return (await fetch(`${this.url}/api/v2/alerts`)).json() as Promise<any>;
  }
}
