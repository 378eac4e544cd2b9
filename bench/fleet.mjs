// `npm run bench -- --fleet`: worker health at fleet scale. For registries of
// 100, 1,000 and 5,000 instances (60 % live ones beating every interval, 40 %
// stopped leftovers of a rolling deploy), with a few real preloaded processes
// (one API process that holds the fleet-view lease, two workers) scraped like
// Prometheus does, it measures from Redis itself:
//   - Redis CPU spent on jobwatch's registry commands (SLOWLOG at threshold 0
//     records every command with its duration; jobwatch's are those on
//     `…:jobwatch:…` keys), as a share of one core over the window,
//   - the longest such call (how long it blocked Redis),
//   - jobwatch's Redis calls: beats and lease calls per interval, registry
//     pages per collection (only the lease holder reads),
//   - worker_status series per process and in total,
//   - the time from SIGKILL of a worker to worker_status 0 on the lease holder.
// The synthetic instances write the real beat script (dist/) through one client.
import { createRequire } from 'node:module';
import { setTimeout as sleep } from 'node:timers/promises';
import { Redis } from 'ioredis';
import { CORES } from './machine.mjs';
import { spawnTracked } from './processes.mjs';
import { freePort, startRedis } from './redis-server.mjs';

const require = createRequire(import.meta.url);
const { redisStore } = require('../dist/backends/redis/registry-store.js');

const SIZES = [100, 1000, 5000];
const INTERVAL_MS = 5000; // JOBWATCH_HEARTBEAT_INTERVAL_MS's default
const SCRAPE_MS = 15_000; // a common Prometheus scrape interval
const WINDOW_MS = 60_000;
const RETENTION_MS = 15 * 60_000;
const FIXTURES = new URL('../test/health/fixtures/', import.meta.url).pathname;

export async function fleet() {
  const rows = [];
  for (const size of SIZES) rows.push(await scenario(size));
  const table = markdown(rows);
  process.stdout.write(table);
  return table;
}

async function scenario(size) {
  const redis = await startRedis({ core: CORES.redis });
  const admin = new Redis({ port: redis.port, host: '127.0.0.1' });
  const procs = [];
  try {
    await admin.config('SET', 'slowlog-log-slower-than', '0');
    await admin.config('SET', 'slowlog-max-len', '1000000');
    const live = Math.round(size * 0.6);
    await seedStopped(admin, size - live);
    const beating = beatForever(admin, live);
    const api = await preloaded(redis.port, 'view-app.cjs', { QUEUE: 'fleet-api' });
    await waitFor(async () => (await admin.get(leaseKey())) !== null);
    procs.push(api);
    for (const name of ['fleet-a', 'fleet-b']) {
      procs.push(await preloaded(redis.port, 'worker-app.cjs', { WORKERS: name }));
    }
    await admin.slowlog('RESET');
    const cpu0 = await redisCpu(admin);
    const started = performance.now();
    while (performance.now() - started < WINDOW_MS) {
      await Promise.all(procs.map((p) => scrape(p.metrics)));
      await sleep(SCRAPE_MS);
    }
    const windowMs = performance.now() - started;
    const cpu = (await redisCpu(admin)) - cpu0;
    const calls = await jobwatchCalls(admin);
    const series = await Promise.all(procs.map(async (p) => statusSeries(await scrape(p.metrics))));
    const killMs = await killToZero(procs[2], api);
    beating.stop();
    return summarize(size, live, windowMs, cpu, calls, series, killMs);
  } finally {
    for (const p of procs) p.child.kill('SIGKILL');
    admin.disconnect();
    await redis.stop();
  }
}

function summarize(size, live, windowMs, cpu, calls, series, killMs) {
  const registryUs = calls.reduce((sum, c) => sum + c.us, 0);
  const longest = calls.reduce((max, c) => (c.us > max.us ? c : max), { us: 0, kind: '-' });
  const sorted = calls.map((c) => c.us).sort((a, b) => a - b);
  const p99Us = sorted[Math.floor(sorted.length * 0.99)] ?? 0;
  const count = (kind) => calls.filter((c) => c.kind === kind).length;
  const intervals = windowMs / INTERVAL_MS;
  const collections = Math.ceil(windowMs / SCRAPE_MS);
  return {
    size,
    live,
    registryCpuPct: (registryUs / 1000 / windowMs) * 100,
    redisCpuPct: (cpu / windowMs) * 100,
    longestUs: longest.us,
    longestKind: longest.kind,
    p99Us,
    beatsPerInterval: count('beat') / intervals,
    leasePerInterval: count('lease') / intervals,
    pagesPerCollection: count('page') / collections,
    series,
    killMs,
  };
}

/** Stopped entries of old replicas, as a rolling deploy leaves them, written by the real script. */
async function seedStopped(client, count) {
  const store = redisStore(client, 'bull');
  for (let i = 0; i < count; i += 200) {
    const batch = [];
    for (let j = i; j < Math.min(count, i + 200); j++) {
      batch.push(store.writeBeat(fields(`old-${j}`, `svc-${j % 100}`), RETENTION_MS, true));
    }
    await Promise.all(batch);
  }
}

/** `count` live instances beating every INTERVAL_MS, spread evenly over the interval. */
function beatForever(client, count) {
  const store = redisStore(client, 'bull');
  const ticks = 50;
  let tick = 0;
  const timer = setInterval(() => {
    for (let i = tick; i < count; i += ticks) {
      void store.writeBeat(fields(`live-${i}`, `svc-${i % 100}`), RETENTION_MS, false);
    }
    tick = (tick + 1) % ticks;
  }, INTERVAL_MS / ticks);
  return { stop: () => clearInterval(timer) };
}

function fields(id, name) {
  return {
    id,
    kind: 'worker',
    name,
    queue: name,
    host: 'sim-host',
    pid: 1,
    status: 'running',
    reason: '',
    intervalMs: INTERVAL_MS,
    stuckJobMs: 0,
    processed: 1234,
    failed: 5,
    stalled: 0,
    active: 1,
    oldestActiveMs: 200,
    sinceTaskBeatMs: 0,
    taskIntervalMs: 0,
    longestBlockMs: 0,
    jobwatchVersion: '0.1.0',
    bullmqVersion: '6.7.0',
  };
}

function leaseKey() {
  return 'bull:jobwatch:{bull}:lease';
}

async function preloaded(redisPort, fixture, env) {
  const port = await freePort();
  const child = spawnTracked(
    process.execPath,
    ['--require', 'jobwatch/register', `${FIXTURES}${fixture}`],
    {
      core: CORES.node,
      stdio: ['ignore', 'pipe', 'pipe'],
      env: {
        ...process.env,
        REDIS_URL: `redis://127.0.0.1:${redisPort}`,
        OTEL_TRACES_EXPORTER: 'none',
        OTEL_EXPORTER_PROMETHEUS_PORT: String(port),
        ...env,
      },
    },
  );
  let out = '';
  child.stdout.on('data', (d) => {
    out += d;
  });
  child.stderr.resume();
  await waitFor(() => out.includes('ready'));
  return { child, metrics: `http://127.0.0.1:${port}/metrics` };
}

async function scrape(url) {
  return (await fetch(url)).text();
}

function statusSeries(text) {
  return text.split('\n').filter((l) => l.startsWith('worker_status{')).length;
}

/** SIGKILLs `worker` and polls the holder's /metrics until its worker_status is 0 (ms). */
async function killToZero(worker, holder) {
  const name = 'fleet-b';
  const zero = new RegExp(`^worker_status\\{bullmq_worker_name="${name}"[^}]*\\} 0$`, 'm');
  worker.child.kill('SIGKILL');
  const killed = performance.now();
  await waitFor(async () => zero.test(await scrape(holder.metrics)), 120_000, 100);
  return performance.now() - killed;
}

/** jobwatch's calls in SLOWLOG (EVALSHA/EVAL of its scripts): duration (µs) and which script. */
async function jobwatchCalls(client) {
  const entries = await client.slowlog('GET', '-1');
  return (
    entries
      .map(([, , us, args]) => ({ us: Number(us), args: args.map(String) }))
      // Redis also logs the commands a script runs; only the script call itself counts.
      .filter(({ args }) => /^eval/i.test(args[0]) && args.some((a) => a.includes(':jobwatch:')))
      .map(({ us, args }) => ({ us, kind: scriptOf(args) }))
  );
}

/** [evalsha, sha, numkeys, key, …]: the beat has 3 keys; the lease, the page and the count one. */
function scriptOf(args) {
  if (args[2] === '3') return 'beat';
  if (args[3]?.endsWith(':lease')) return 'lease';
  return args.length > 4 ? 'page' : 'count';
}

/** Redis's own CPU time (ms), user + system. */
async function redisCpu(client) {
  const info = await client.info('cpu');
  const read = (k) => Number(new RegExp(`^${k}:(\\S+)`, 'm').exec(info)[1]);
  return (read('used_cpu_user') + read('used_cpu_sys')) * 1000;
}

async function waitFor(check, timeoutMs = 30_000, intervalMs = 50) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (
      await Promise.resolve()
        .then(check)
        .catch(() => false)
    )
      return;
    await sleep(intervalMs);
  }
  throw new Error('[bench] fleet: timed out');
}

function markdown(rows) {
  const lines = [
    `Fleet simulation (\`npm run bench -- --fleet\`): ${INTERVAL_MS / 1000} s heartbeats, ${SCRAPE_MS / 1000} s scrapes, ${WINDOW_MS / 1000} s per size; 60 % of the instances beating, 40 % stopped deploy leftovers; one API process holding the lease and two preloaded workers, all scraped.`,
    '',
    '| instances (live) | Redis CPU: registry work | Redis CPU: all | registry call p99 / longest | per interval: beats, lease calls | registry pages per collection | worker_status series (API / worker / worker → total) | SIGKILL → 0 |',
    '|---|---|---|---|---|---|---|---|',
  ];
  for (const r of rows) {
    lines.push(
      `| ${r.size} (${r.live}) | ${r.registryCpuPct.toFixed(2)} % | ${r.redisCpuPct.toFixed(2)} % | ${(r.p99Us / 1000).toFixed(2)} / ${(r.longestUs / 1000).toFixed(2)} ms (${r.longestKind}) | ${r.beatsPerInterval.toFixed(0)}, ${r.leasePerInterval.toFixed(1)} | ${r.pagesPerCollection.toFixed(1)} | ${r.series.join(' / ')} → ${r.series.reduce((a, b) => a + b, 0)} | ${(r.killMs / 1000).toFixed(1)} s |`,
    );
  }
  return `${lines.join('\n')}\n`;
}
