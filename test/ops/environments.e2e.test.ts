// Two environments in one Prometheus, as they happen in the field: one scrape
// job, no target labels, the same queue and worker names in each, and
// registries that differ only by their Redis db. A real Prometheus loads the
// shipped rules (every `for` shortened, one threshold lowered).
//
//   prod     mailer (SIGKILLed), reporter (stopped on purpose), a monitor
//   staging  mailer (keeps running), a monitor
//
// The prod mailer's death pages for prod only; staging's live twin does not
// hide it. The planned stop of the reporter never pages, and the CLI agrees;
// the jobs that keep arriving for it raise BackgroundQueueWaitTimeHigh
// instead, from the oldest waiting job's age. Needs `npm run build`.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Queue } from 'bullmq';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { type NodeProcess, spawnNode } from '../helpers/node-process.js';
import { freePort, waitFor } from '../helpers/ports.js';
import { type ActiveAlert, PrometheusServer } from '../helpers/prometheus.js';
import { RedisServer } from '../helpers/redis.js';
import { writeOverriddenRules } from '../helpers/rules-override.js';

const FOR = '5s';
const INTERVAL = '500';

let redis: RedisServer;
let prometheus: PrometheusServer;
const tmp = mkdtempSync(join(tmpdir(), 'jobwatch-envs-'));
const procs: NodeProcess[] = [];
const env = (db: number) => `${redis.url}/${db}`;
const registry = (db: number) => `redis://127.0.0.1:${redis.port}/${db}#bull`;

async function exporter(args: string[], extra: Record<string, string>): Promise<string> {
  const port = await freePort();
  const proc = spawnNode(args, {
    OTEL_TRACES_EXPORTER: 'none',
    OTEL_METRICS_EXPORTER: 'prometheus',
    OTEL_EXPORTER_PROMETHEUS_PORT: String(port),
    JOBWATCH_HEARTBEAT_INTERVAL_MS: INTERVAL,
    JOBWATCH_COLLECT_CACHE_MS: '0',
    JOBWATCH_REDIS_URL: '',
    ...extra,
  });
  procs.push(proc);
  return `127.0.0.1:${port}`;
}

const worker = (db: number, workers: string, extra: Record<string, string> = {}) =>
  exporter(['--require', 'jobwatch/register', './test/health/fixtures/worker-app.cjs'], {
    REDIS_URL: env(db),
    WORKERS: workers,
    ...extra,
  });

const monitor = (db: number) =>
  exporter(['dist/cli/main.js', 'monitor', '--redis', env(db), '--queue', 'reports'], {});

let targets: string[] = [];
let mailer: NodeProcess;
let reporter: NodeProcess;

beforeAll(async () => {
  redis = await RedisServer.start();
  targets = [
    await worker(0, 'email:mailer'),
    await worker(0, 'reports:reporter', { APP_SIGTERM: '1' }),
    await worker(1, 'email:mailer'),
    await monitor(0),
    await monitor(1),
  ];
  [mailer, reporter] = procs;
  const rules = writeOverriddenRules(join(tmp, 'rules'), {
    for: FOR,
    thresholds: { queue_oldest_waiting_seconds: 3 },
  });
  prometheus = await PrometheusServer.start({
    ruleFiles: [rules],
    scrapeJobs: [{ job: 'bullmq', targets }],
  });
  await prometheus.waitForTargets('bullmq');
  // Every worker of both environments up, as each registry's monitor says.
  await waitFor(
    async () =>
      (await prometheus.query('worker_queue:worker_status:max == 1')).length === 3
        ? true
        : undefined,
    { timeoutMs: 20_000, what: 'three workers up in Prometheus' },
  );
}, 60_000);

afterAll(async () => {
  await Promise.all(procs.map((p) => p.stop('SIGKILL')));
  await prometheus?.stop();
  await redis?.close();
  rmSync(tmp, { recursive: true, force: true });
});

const named = (alerts: ActiveAlert[], name: string) =>
  alerts.filter((a) => a.labels.alertname === name);

it('keeps the registries apart: queue depth and worker status per registry, no configuration', async () => {
  for (const metric of ['worker_status', 'bullmq_queue_jobs']) {
    const query = `count by (jobwatch_registry) (${metric}{messaging_destination_name="email"})`;
    const registries = async () =>
      (await prometheus.query(query)).map((s) => s.metric.jobwatch_registry).sort();
    // beforeAll waited for worker_status only: a process's first queue-depth
    // collection may land a scrape or two later on a loaded machine.
    await waitFor(async () => (await registries()).length >= 2, {
      timeoutMs: 20_000,
      what: `${metric} of two registries in Prometheus`,
    }).catch(() => undefined); // the assertion says what was there
    expect(await registries(), metric).toEqual([registry(0), registry(1)]);
  }
});

it('pages for the SIGKILLed prod mailer, not for staging’s live twin', async () => {
  mailer.child.kill('SIGKILL');
  const killedAt = Date.now();
  const firing = await waitFor(
    async () => {
      const down = named(await prometheus.alerts(), 'BackgroundWorkerDown');
      return down.some((a) => a.state === 'firing') ? down : undefined;
    },
    { timeoutMs: 40_000, what: 'BackgroundWorkerDown firing' },
  );
  console.log(`environments: SIGKILL → BackgroundWorkerDown firing in ${Date.now() - killedAt} ms`);
  expect(firing.map((a) => a.labels)).toEqual([
    expect.objectContaining({
      jobwatch_registry: registry(0),
      bullmq_worker_name: 'mailer',
      messaging_destination_name: 'email',
      severity: 'critical',
    }),
  ]);
}, 60_000);

it('a planned stop never pages, the CLI agrees, and the jobs it leaves waiting ticket', async () => {
  expect((await reporter.stop('SIGTERM')).code).toBe(0); // worker.close(), not replaced
  const reports = new Queue('reports', { connection: { ...redis.connection, db: 0 } });
  try {
    await reports.addBulk([1, 2, 3].map((i) => ({ name: 'monthly', data: { i } })));
    const reporterDown: string[] = []; // BackgroundWorkerDown states seen for the reporter
    const wait = await waitFor(
      async () => {
        const alerts = await prometheus.alerts();
        for (const a of named(alerts, 'BackgroundWorkerDown'))
          if (a.labels.bullmq_worker_name === 'reporter') reporterDown.push(a.state);
        const waitHigh = named(alerts, 'BackgroundQueueWaitTimeHigh');
        return waitHigh.some((a) => a.state === 'firing') ? waitHigh : undefined;
      },
      { timeoutMs: 40_000, intervalMs: 500, what: 'BackgroundQueueWaitTimeHigh firing' },
    );
    expect(reporterDown, 'the planned stop was pending or paged').toEqual([]);
    expect(wait.map((a) => a.labels)).toEqual([
      expect.objectContaining({
        jobwatch_registry: registry(0),
        messaging_destination_name: 'reports',
        severity: 'warning',
      }),
    ]);
    // Still no page, well past the `for` of BackgroundWorkerDown since the stop.
    const down = await prometheus.query(
      'worker_queue:worker_up:max{bullmq_worker_name="reporter"} == 0 unless on (jobwatch_registry, bullmq_worker_name, messaging_destination_name) worker_queue:bullmq_worker_state:max{bullmq_worker_state="stopped"} == 1',
    );
    expect(down).toEqual([]);
    expect(
      named(await prometheus.alerts(), 'BackgroundWorkerDown').map(
        (a) => a.labels.bullmq_worker_name,
      ),
    ).toEqual(['mailer']);
  } finally {
    await reports.close();
  }
  // The CLI: the reporter is stopped, which fails nothing; the prod registry is unhealthy
  // for the dead mailer alone, and staging is healthy.
  const check = async (db: number, ...args: string[]) => {
    const proc = spawnNode(['dist/cli/main.js', 'check', '--redis', env(db), ...args], {
      JOBWATCH_REDIS_URL: '',
    });
    const { code } = await proc.exited;
    return { code, report: JSON.parse(proc.stdout) };
  };
  const stopped = await check(0, '--worker', 'reporter');
  expect(stopped.code).toBe(0);
  expect(stopped.report.workers.reporter).toMatchObject({ state: 'stopped', alive: false });
  const prod = await check(0);
  expect(prod.code).toBe(1);
  expect(prod.report.reason).toMatch(/^worker mailer is dead/);
  expect((await check(1)).code).toBe(0);
}, 90_000);
