// `npm run demo`: the demo API and worker, each started with only the jobwatch
// preload, some traffic, and the whole story of a crash: the trace of a request,
// the worker's metrics, then a SIGKILL of the worker, its death as a log record
// from the process that saw it, the BackgroundWorkerDown page as a real
// Alertmanager delivered it (from a real Prometheus running the shipped rules),
// the restart and the resolved notification. Then orders until Ctrl-C.
//
//   REDIS_URL                    use this Redis (default: start redis-server from PATH on a free port)
//   OTEL_EXPORTER_OTLP_ENDPOINT  send traces and logs there (default: a built-in receiver that prints them)
//   --no-kill                    leave the worker running (no SIGKILL, no page)
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { createServer } from 'node:net';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { formatNotification } from './alert-receiver.mjs';
import { startAlerting, timings } from './demo-alerting.mjs';
import { startOtlpReceiver } from './otlp-receiver.mjs';
import { redisServerArgs } from './redis-server-args.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const kill = !process.argv.includes('--no-kill');
/** Beats every second (the default is 5 s): the registry calls a SIGKILLed worker dead in 3 s. */
const HEARTBEAT_MS = 1000;
/** How long the demo lets the healthy stack run before it kills the worker. */
const KILL_AFTER_MS = 5000;
const children = [];
const cleanups = [];
const notifications = [];
let worker;

async function main() {
  const redisUrl = process.env.REDIS_URL ?? (await startRedis());
  const receiver = process.env.OTEL_EXPORTER_OTLP_ENDPOINT
    ? undefined
    : await startOtlpReceiver({ onLogs: printEvents });
  cleanups.push(() => receiver?.close());
  const otlpEndpoint = process.env.OTEL_EXPORTER_OTLP_ENDPOINT ?? receiver.url;
  const [apiPort, apiMetrics, workerMetrics, workerHealth, prometheusPort, alertmanagerPort] =
    await freePorts(6);

  const common = {
    REDIS_URL: redisUrl,
    OTEL_EXPORTER_OTLP_ENDPOINT: otlpEndpoint,
    // The fleet view's holder sends each worker's lifecycle events as log records.
    OTEL_LOGS_EXPORTER: 'otlp',
    JOBWATCH_HEARTBEAT_INTERVAL_MS: String(HEARTBEAT_MS),
  };
  start('api', ['--require', 'jobwatch/register', join(here, 'api.cjs')], {
    ...common,
    PORT: String(apiPort),
    OTEL_SERVICE_NAME: 'demo-api',
    OTEL_EXPORTER_PROMETHEUS_PORT: String(apiMetrics),
  });
  const startWorker = () =>
    start('worker', ['--import', 'jobwatch/register', join(here, 'worker.mjs')], {
      ...common,
      OTEL_SERVICE_NAME: 'demo-worker',
      OTEL_EXPORTER_PROMETHEUS_PORT: String(workerMetrics),
      JOBWATCH_HEALTH_PORT: String(workerHealth),
    });
  worker = startWorker();
  await waitUntil(
    () => fetch(`http://127.0.0.1:${apiPort}/healthz`).then((r) => r.ok),
    'the API to start',
  );
  // Prometheus starts once the worker reports, or the rules' "nothing reports at all"
  // branch would page for the seconds before its first scrape.
  await waitUntil(
    () => scrape(workerMetrics).then((t) => t.includes('worker_status{')),
    "the worker's worker_status",
  );
  const alerting = await startAlerting({
    targets: { 'demo-api': `127.0.0.1:${apiMetrics}`, 'demo-worker': `127.0.0.1:${workerMetrics}` },
    ports: { prometheus: prometheusPort, alertmanager: alertmanagerPort },
    onNotification: (n) => {
      notifications.push({ ...n, receivedAt: Date.now() });
      for (const line of formatNotification(n)) console.log(`alert: ${line}`);
    },
  });
  cleanups.push(() => alerting.stop());

  console.log(`
demo: redis            ${redisUrl}
demo: API              http://127.0.0.1:${apiPort}/orders   (POST to enqueue an order)
demo: traces, events   ${otlpEndpoint}${receiver ? '   (built-in OTLP receiver: the first trace and every worker event printed below)' : ''}
demo: API metrics      http://127.0.0.1:${apiMetrics}/metrics
demo: worker metrics   http://127.0.0.1:${workerMetrics}/metrics
demo: worker health    http://127.0.0.1:${workerHealth}/health/queues
demo: Prometheus       ${alerting.prometheusUrl}   (alerts/jobwatch.rules.yml, every \`for\` ${timings.for}, scrape and evaluation every ${timings.scrapeAndEvaluation})
demo: Alertmanager     ${alerting.alertmanagerUrl}   (alerts/alertmanager.yml, receivers printed as "alert:", group_wait ${timings.groupWait})
`);

  const jobs = [];
  for (let i = 0; i < 10; i++) jobs.push(await postOrder(apiPort));
  if (receiver) await reportFirstTrace(receiver, jobs[0]);
  await reportMetrics(workerMetrics);

  console.log('demo: sending an order every second');
  const timer = setInterval(() => postOrder(apiPort).catch(() => {}), 1000);
  cleanups.push(() => clearInterval(timer));
  if (kill) {
    await waitUntil(
      async () => (await alerting.query('worker_queue:worker_up:max == 1')).length > 0,
      'Prometheus to see the worker up',
      60_000,
    );
    console.log(
      `demo: Prometheus sees the worker up; SIGKILL in ${KILL_AFTER_MS / 1000} s (--no-kill to skip)`,
    );
    await sleep(KILL_AFTER_MS);
    await crashAndRecover(startWorker);
  }
  console.log('demo: still sending an order every second; Ctrl-C to stop');
  await new Promise(() => {}); // until SIGINT
}

/** Prints jobwatch's worker lifecycle events (log records) as the receiver gets them. */
function printEvents(records) {
  for (const r of records) {
    if (!r.eventName.startsWith('bullmq.worker.')) continue;
    console.log(`event: ${r.eventName} (from ${r.resource['service.name']}): ${r.body}`);
  }
}

/** SIGKILLs the worker, waits for the page, restarts it and waits for the resolution. */
async function crashAndRecover(startWorker) {
  const killedAt = Date.now();
  const pid = worker.pid;
  worker.expectedExit = true;
  worker.kill('SIGKILL');
  console.log(`demo: SIGKILL → worker (pid ${pid}), as the OOM killer would`);
  const page = await waitForNotification('firing', killedAt);
  console.log(
    `demo: the page arrived ${seconds(page.receivedAt - killedAt)} after the SIGKILL (receiver "${page.receiver}")`,
  );
  const restartedAt = Date.now();
  worker = startWorker();
  console.log(`demo: worker restarted (pid ${worker.pid}), as an orchestrator would`);
  const resolved = await waitForNotification('resolved', restartedAt);
  console.log(
    `demo: resolved ${seconds(resolved.receivedAt - restartedAt)} after the restart, ${seconds(resolved.receivedAt - killedAt)} after the SIGKILL`,
  );
}

function waitForNotification(status, since) {
  return waitUntil(
    () =>
      notifications.find(
        (n) =>
          n.receivedAt >= since &&
          n.alerts.some(
            (a) =>
              a.status === status &&
              a.labels.alertname === 'BackgroundWorkerDown' &&
              a.labels.bullmq_worker_name === 'orders',
          ),
      ),
    `the ${status} BackgroundWorkerDown notification`,
    90_000,
  );
}

const seconds = (ms) => `${(ms / 1000).toFixed(1)} s`;
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const scrape = (port) => fetch(`http://127.0.0.1:${port}/metrics`).then((r) => r.text());

async function postOrder(port) {
  const res = await fetch(`http://127.0.0.1:${port}/orders`, { method: 'POST' });
  return (await res.json()).jobId;
}

/** Prints the span tree of the trace that contains the given job's processing. */
async function reportFirstTrace(receiver, jobId) {
  const processSpan = await waitUntil(
    () =>
      receiver.spans.find((s) => s.kind === 5 && s.attributes['messaging.message.id'] === jobId),
    `the worker's span for job ${jobId}`,
  );
  await sleep(1500); // let both services flush their batches
  const trace = receiver.spans.filter((s) => s.traceId === processSpan.traceId);
  console.log(`demo: trace ${processSpan.traceId} (request POST /orders → job ${jobId}):`);
  printTree(trace);
}

function printTree(spans) {
  const ids = new Set(spans.map((s) => s.spanId));
  const print = (parentId, depth) => {
    for (const s of spans.filter((x) =>
      depth === 0 ? !ids.has(x.parentSpanId) : x.parentSpanId === parentId,
    )) {
      const error = s.status.code === 2 ? `  ERROR ${s.attributes['error.type'] ?? ''}` : '';
      console.log(`  ${'  '.repeat(depth)}└ ${s.name}  [${s.resource['service.name']}]${error}`);
      print(s.spanId, depth + 1);
    }
  };
  print(undefined, 0);
}

async function reportMetrics(port) {
  await sleep(1000);
  const lines = (await scrape(port))
    .split('\n')
    .filter((l) =>
      /^(worker_status|messaging_client_consumed_messages_total|bullmq_queue_jobs)\{/.test(l),
    );
  console.log(`demo: from the worker's /metrics:\n${lines.map((l) => `  ${l}`).join('\n')}\n`);
}

function start(name, args, env) {
  const child = spawn(process.execPath, args, {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'inherit', 'inherit'],
  });
  child.on('exit', (code, signal) => {
    if (!shuttingDown && !child.expectedExit)
      console.error(`demo: ${name} exited (${signal ?? code})`);
  });
  children.push(child);
  return child;
}

async function startRedis() {
  const [port] = await freePorts(1);
  const redis = spawn('redis-server', redisServerArgs(port), { stdio: 'ignore' });
  const [err] = await Promise.race([once(redis, 'error'), once(redis, 'spawn').then(() => [])]);
  if (err) {
    console.error(
      'demo: no redis-server on PATH. Install one (Debian/Ubuntu: apt-get install redis-server; macOS: brew install redis)\n' +
        '      or point the demo at a running Redis with REDIS_URL=redis://host:6379',
    );
    process.exit(1);
  }
  children.push(redis);
  return `redis://127.0.0.1:${port}`;
}

async function freePorts(n) {
  const servers = await Promise.all(
    Array.from({ length: n }, async () => {
      const server = createServer().listen(0, '127.0.0.1');
      await once(server, 'listening');
      return server;
    }),
  );
  const ports = servers.map((s) => s.address().port);
  await Promise.all(servers.map((s) => new Promise((r) => s.close(r))));
  return ports;
}

async function waitUntil(check, what, timeoutMs = 20_000) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const value = await Promise.resolve()
      .then(check)
      .catch(() => undefined);
    if (value) return value;
    await sleep(100);
  }
  throw new Error(`timed out waiting for ${what}`);
}

let shuttingDown = false;
async function stopAll() {
  if (shuttingDown) return;
  shuttingDown = true;
  for (const cleanup of cleanups.reverse()) await cleanup();
  for (const child of children.reverse()) {
    if (child.exitCode !== null || child.signalCode !== null) continue;
    child.kill('SIGTERM');
    await Promise.race([once(child, 'exit'), sleep(5000)]);
  }
}

// Ctrl-C: the terminal sends SIGINT to the demo's children too; stopAll stops the rest.
process.once('SIGINT', () => {
  console.log('\ndemo: stopping');
  stopAll().then(() => process.exit(0));
});

main().catch(async (err) => {
  console.error(`demo: ${err.message}`);
  await stopAll();
  process.exit(1);
});
