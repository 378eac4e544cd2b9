// A real Alertmanager on a free port and a webhook receiver that records what
// it is sent, for tests of routing, inhibition and end-to-end notifications.
import type { ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, waitFor } from './ports.js';
import { spawnLogged, stopChild } from './prometheus.js';

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

export class AlertmanagerServer {
  private constructor(
    readonly port: number,
    private readonly dir: string,
    private readonly child: ChildProcess,
    readonly log: () => string,
  ) {}

  /** Starts Alertmanager with the given config text (see rules-override.ts). */
  static async start(configYaml: string): Promise<AlertmanagerServer> {
    const dir = mkdtempSync(join(tmpdir(), 'jobwatch-alertmanager-'));
    const configFile = join(dir, 'alertmanager.yml');
    writeFileSync(configFile, configYaml);
    const port = await freePort();
    const { child, log } = spawnLogged('prometheus-alertmanager', [
      `--config.file=${configFile}`,
      `--storage.path=${join(dir, 'data')}`,
      `--web.listen-address=127.0.0.1:${port}`,
      '--cluster.listen-address=', // no gossip port: a single, isolated instance
      '--log.level=warn',
    ]);
    const server = new AlertmanagerServer(port, dir, child, log);
    try {
      await waitFor(
        async () => {
          if (child.exitCode !== null) throw new Error(`alertmanager exited: ${log()}`);
          return (await fetch(`${server.url}/-/ready`)).ok;
        },
        { timeoutMs: 20_000, what: `alertmanager on ${port}` },
      );
    } catch (err) {
      await server.stop();
      throw err;
    }
    return server;
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  get address(): string {
    return `127.0.0.1:${this.port}`;
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

  async stop(): Promise<void> {
    await stopChild(this.child);
    rmSync(this.dir, { recursive: true, force: true });
  }
}
