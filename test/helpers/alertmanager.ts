// A real Alertmanager on a free port and a webhook receiver that records what
// it is sent, for tests of routing, inhibition and end-to-end notifications.
import { once } from 'node:events';
import { createServer, type Server } from 'node:http';
import { join } from 'node:path';
import { Daemon } from './daemon.js';
import { freePort, waitFor } from './ports.js';
import { overriddenAlertmanagerConfig } from './rules-override.js';

/** One alert inside a webhook notification (Alertmanager's webhook payload, version 4). */
export interface NotifiedAlert {
  status: 'firing' | 'resolved';
  labels: Record<string, string>;
  annotations: Record<string, string>;
}

export interface Notification {
  receiver: string;
  status: 'firing' | 'resolved';
  groupLabels: Record<string, string>;
  alerts: NotifiedAlert[];
  /** Date.now() when the receiver got it. */
  receivedAt: number;
}

export class AlertWebhook {
  readonly notifications: Notification[] = [];

  private constructor(
    private readonly server: Server,
    readonly port: number,
  ) {}

  static async start(): Promise<AlertWebhook> {
    const port = await freePort();
    let hook: AlertWebhook | undefined;
    const server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const body = JSON.parse(Buffer.concat(chunks).toString('utf8'));
        hook?.notifications.push({ ...body, receivedAt: Date.now() });
        res.writeHead(200).end();
      });
    });
    server.listen(port, '127.0.0.1');
    await once(server, 'listening');
    hook = new AlertWebhook(server, port);
    return hook;
  }

  /** URL for a receiver; the path names it so tests can tell page from ticket. */
  url(path: string): string {
    return `http://127.0.0.1:${this.port}/${path}`;
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
    return new Promise((resolve) => this.server.close(() => resolve()));
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
