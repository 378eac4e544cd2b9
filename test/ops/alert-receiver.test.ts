// examples/alert-receiver.mjs as the compose stack runs it, fed by a real
// Alertmanager with the shipped config (only the receiver's host and port moved
// here): every notification is printed, firing and resolved. And each one-line
// replacement that alerts/alertmanager.yml documents is a config amtool accepts.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AlertmanagerServer } from '../helpers/alertmanager.js';
import { type NodeProcess, spawnNode } from '../helpers/node-process.js';
import { freePort, waitFor } from '../helpers/ports.js';
import { overriddenAlertmanagerConfig } from '../helpers/rules-override.js';
import { alertmanagerConfig, compose, read } from './stack-files.js';

const service = compose.services['alert-receiver'];
const down = {
  alertname: 'BackgroundWorkerDown',
  severity: 'critical',
  bullmq_worker_name: 'mailer',
  messaging_destination_name: 'email',
};

describe('the alert receiver with a real Alertmanager', () => {
  let receiver: NodeProcess;
  let am: AlertmanagerServer;

  beforeAll(async () => {
    const port = await freePort();
    receiver = spawnNode(service.command.slice(1), { HOST: '127.0.0.1', PORT: String(port) });
    await waitFor(() => receiver.stdout.includes('listening') || !receiver.running, {
      what: 'the alert receiver',
    });
    // The shipped URLs, with only the compose service name and port replaced.
    const webhooks = Object.fromEntries(
      alertmanagerConfig.receivers.map((r: any) => {
        const url = new URL(r.webhook_configs[0].url);
        return [r.name, `http://127.0.0.1:${port}${url.pathname}`];
      }),
    );
    am = await AlertmanagerServer.start(
      overriddenAlertmanagerConfig({ webhooks, groupWait: '1s', groupInterval: '1s' }),
    );
  }, 30_000);

  afterAll(async () => {
    await am?.stop();
    await receiver?.stop();
  });

  it('prints the page, then its resolution', async () => {
    const annotations = {
      summary: 'BullMQ worker mailer on queue email is down.',
      runbook_url:
        'https://github.com/jobwatch/jobwatch/blob/main/docs/runbook.md#backgroundworkerdown',
    };
    await am.post([{ labels: down, annotations }]);
    await waitFor(() => receiver.stdout.includes('FIRING'), {
      what: `the printed page (${receiver.stdout}${receiver.stderr})`,
    });
    expect(receiver.stdout).toContain(
      '[page] FIRING BackgroundWorkerDown (critical) {bullmq_worker_name="mailer", messaging_destination_name="email"}: BullMQ worker mailer on queue email is down.\n' +
        `    runbook: ${annotations.runbook_url}`,
    );
    const endsAt = new Date(Date.now() - 1000).toISOString();
    await (
      await fetch(`${am.url}/api/v2/alerts`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify([{ labels: down, annotations, endsAt }]),
      })
    ).text();
    await waitFor(() => receiver.stdout.includes('[page] RESOLVED BackgroundWorkerDown'), {
      what: `the printed resolution (${receiver.stdout})`,
    });
  }, 40_000);
});

describe('the documented one-line replacements of a receiver', () => {
  const text = read('alerts/alertmanager.yml');
  const documented = [...text.matchAll(/^#\s+(webhook|Slack|PagerDuty):\s+(\w+_configs: .+)$/gm)];
  const shippedLine = /^ {4}webhook_configs: .+$/m;
  const dir = mkdtempSync(join(tmpdir(), 'jobwatch-am-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('documents a webhook, Slack and PagerDuty, and each receiver has one line to replace', () => {
    expect(documented.map((m) => m[1])).toEqual(['webhook', 'Slack', 'PagerDuty']);
    expect(text.match(new RegExp(shippedLine.source, 'gm'))).toHaveLength(2);
  });

  it.each(documented.map((m) => [m[1]!, m[2]!]))(
    '%s: the config with that line in place passes amtool check-config',
    (name, line) => {
      const file = join(dir, `${name}.yml`);
      const replaced = text.replace(shippedLine, `    ${line}`);
      expect(replaced).not.toBe(text);
      writeFileSync(file, replaced);
      const r = spawnSync('amtool', ['check-config', file], { encoding: 'utf8' });
      expect(r.status, r.stdout + r.stderr).toBe(0);
    },
  );
});
