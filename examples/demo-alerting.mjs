// The demo's alerting path, natively: a real Prometheus with the shipped rules
// and a real Alertmanager with the shipped routing, both changed only by the
// documented timing override (stack/timing-override.mjs), and the alert
// receiver from alert-receiver.mjs taking both receivers' notifications.
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { accessSync, constants, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { overrideAlertmanagerConfig, overrideRules } from '../stack/timing-override.mjs';
import { startAlertReceiver } from './alert-receiver.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');

/** What the demo changes, and nothing else: the override's knobs and the intervals. */
export const timings = {
  for: '5s',
  scrapeAndEvaluation: '1s',
  groupWait: '1s',
  groupInterval: '1s',
};

/**
 * Starts the receiver, Alertmanager and Prometheus (scraping `targets`, job name →
 * host:port). `onNotification` sees each notification. Resolves to { prometheusUrl,
 * alertmanagerUrl, query, stop }.
 */
export async function startAlerting({ targets, ports, onNotification }) {
  const dir = mkdtempSync(join(tmpdir(), 'jobwatch-demo-'));
  const stoppers = [() => rmSync(dir, { recursive: true, force: true })];
  const stop = async () => {
    for (const s of stoppers.reverse()) await s();
  };
  try {
    const receiver = await startAlertReceiver({ onNotification });
    stoppers.push(() => receiver.close());
    const amConfig = overrideAlertmanagerConfig(read('alerts/alertmanager.yml'), {
      webhooks: { page: `${receiver.url}/page`, ticket: `${receiver.url}/ticket` },
      groupWait: timings.groupWait,
      groupInterval: timings.groupInterval,
    });
    const am = await daemon(
      dir,
      stoppers,
      alertmanagerCommand(),
      'alertmanager',
      ports.alertmanager,
      [
        `--config.file=${write(dir, 'alertmanager.yml', amConfig)}`,
        `--storage.path=${join(dir, 'am-data')}`,
        '--cluster.listen-address=',
      ],
    );
    const rules = write(
      dir,
      'jobwatch.rules.yml',
      overrideRules(read('alerts/jobwatch.rules.yml'), { for: timings.for }),
    );
    const prometheusConfig = JSON.stringify({
      global: {
        scrape_interval: timings.scrapeAndEvaluation,
        scrape_timeout: timings.scrapeAndEvaluation,
        evaluation_interval: timings.scrapeAndEvaluation,
      },
      rule_files: [rules],
      alerting: { alertmanagers: [{ static_configs: [{ targets: [new URL(am).host] }] }] },
      scrape_configs: Object.entries(targets).map(([job, target]) => ({
        job_name: job,
        static_configs: [{ targets: [target] }],
      })),
    });
    const prometheus = await daemon(dir, stoppers, 'prometheus', 'prometheus', ports.prometheus, [
      `--config.file=${write(dir, 'prometheus.yml', prometheusConfig)}`,
      `--storage.tsdb.path=${join(dir, 'prom-data')}`,
    ]);
    const query = async (expr) => {
      const res = await fetch(`${prometheus}/api/v1/query?${new URLSearchParams({ query: expr })}`);
      return (await res.json()).data?.result ?? [];
    };
    return { prometheusUrl: prometheus, alertmanagerUrl: am, query, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}

const read = (path) => readFileSync(join(root, path), 'utf8');

function write(dir, name, text) {
  const file = join(dir, name);
  writeFileSync(file, text);
  return file;
}

/** Debian names the binary prometheus-alertmanager; upstream's release, alertmanager. */
function alertmanagerCommand() {
  const onPath = (cmd) =>
    (process.env.PATH ?? '').split(':').some((d) => {
      try {
        accessSync(join(d, cmd), constants.X_OK);
        return true;
      } catch {
        return false;
      }
    });
  return onPath('prometheus-alertmanager') ? 'prometheus-alertmanager' : 'alertmanager';
}

/** Spawns a Prometheus-style daemon on 127.0.0.1:port and waits for its /-/ready. */
async function daemon(dir, stoppers, command, name, port, args) {
  const child = spawn(
    command,
    [...args, `--web.listen-address=127.0.0.1:${port}`, '--log.level=warn'],
    {
      cwd: dir,
      stdio: ['ignore', 'ignore', 'pipe'],
    },
  );
  let stderr = '';
  child.stderr.on('data', (d) => {
    stderr = (stderr + d).slice(-2000);
  });
  const [err] = await Promise.race([once(child, 'error'), once(child, 'spawn').then(() => [])]);
  if (err)
    throw new Error(
      `no ${command} on PATH: run the demo through scripts/run, which installs it (Debian: apt-get install ${name === 'prometheus' ? 'prometheus' : 'prometheus-alertmanager'})`,
    );
  stoppers.push(async () => {
    if (child.exitCode !== null) return;
    child.kill('SIGTERM');
    await Promise.race([once(child, 'exit'), new Promise((r) => setTimeout(r, 5000))]);
  });
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 30_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`${name} exited: ${stderr}`);
    if (
      await fetch(`${url}/-/ready`).then(
        (r) => r.ok,
        () => false,
      )
    )
      return url;
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`${name} did not become ready: ${stderr}`);
}
