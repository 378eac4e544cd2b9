// `npm run demo`: the demo API and worker, each started with only the jobwatch
// preload, some traffic, and the telemetry they produce, live.
//
//   REDIS_URL                    use this Redis (default: start redis-server from PATH on a free port)
//   OTEL_EXPORTER_OTLP_ENDPOINT  send traces there (default: a built-in receiver that prints them)
//   --once                       exit after the first report (used by the tests)
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { createServer } from 'node:net';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startOtlpReceiver } from './otlp-receiver.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const runOnce = process.argv.includes('--once');
const children = [];
const cleanups = [];

async function main() {
  const redisUrl = process.env.REDIS_URL ?? (await startRedis());
  const receiver = process.env.OTEL_EXPORTER_OTLP_ENDPOINT ? undefined : await startOtlpReceiver();
  cleanups.push(() => receiver?.close());
  const otlpEndpoint = process.env.OTEL_EXPORTER_OTLP_ENDPOINT ?? receiver.url;
  const [apiPort, apiMetrics, workerMetrics, workerHealth] = await freePorts(4);

  const common = { REDIS_URL: redisUrl, OTEL_EXPORTER_OTLP_ENDPOINT: otlpEndpoint };
  start('api', ['--require', 'jobwatch/register', join(here, 'api.cjs')], {
    ...common,
    PORT: String(apiPort),
    OTEL_SERVICE_NAME: 'demo-api',
    OTEL_EXPORTER_PROMETHEUS_PORT: String(apiMetrics),
  });
  start('worker', ['--import', 'jobwatch/register', join(here, 'worker.mjs')], {
    ...common,
    OTEL_SERVICE_NAME: 'demo-worker',
    OTEL_EXPORTER_PROMETHEUS_PORT: String(workerMetrics),
    JOBWATCH_HEALTH_PORT: String(workerHealth),
  });

  console.log(`
demo: redis            ${redisUrl}
demo: API              http://127.0.0.1:${apiPort}/orders   (POST to enqueue an order)
demo: traces (OTLP)    ${otlpEndpoint}${receiver ? '   (built-in receiver, printed below)' : ''}
demo: API metrics      http://127.0.0.1:${apiMetrics}/metrics
demo: worker metrics   http://127.0.0.1:${workerMetrics}/metrics
demo: worker health    http://127.0.0.1:${workerHealth}/health/queues
`);
  await waitUntil(
    () => fetch(`http://127.0.0.1:${apiPort}/healthz`).then((r) => r.ok),
    'the API to start',
  );

  const jobs = [];
  for (let i = 0; i < 10; i++) jobs.push(await postOrder(apiPort));
  if (receiver) await reportFirstTrace(receiver, jobs[0]);
  await reportMetrics(workerMetrics);
  if (runOnce) return;

  console.log('demo: sending an order every second; Ctrl-C to stop');
  const timer = setInterval(() => postOrder(apiPort).catch(() => {}), 1000);
  cleanups.push(() => clearInterval(timer));
  await new Promise((resolve) => process.once('SIGINT', resolve));
}

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
  await new Promise((r) => setTimeout(r, 1500)); // let both services flush their batches
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
  await new Promise((r) => setTimeout(r, 1000));
  const text = await fetch(`http://127.0.0.1:${port}/metrics`).then((r) => r.text());
  const lines = text
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
    if (!shuttingDown) console.error(`demo: ${name} exited (${signal ?? code})`);
  });
  children.push(child);
}

async function startRedis() {
  const [port] = await freePorts(1);
  const redis = spawn(
    'redis-server',
    ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'],
    {
      stdio: 'ignore',
    },
  );
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
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`timed out waiting for ${what}`);
}

let shuttingDown = false;
async function stopAll() {
  shuttingDown = true;
  for (const child of children.reverse()) {
    child.kill('SIGTERM');
    if (child.exitCode === null)
      await Promise.race([once(child, 'exit'), new Promise((r) => setTimeout(r, 5000))]);
  }
  for (const cleanup of cleanups) await cleanup();
}

main()
  .catch((err) => {
    console.error(`demo: ${err.message}`);
    process.exitCode = 1;
  })
  .finally(stopAll);
