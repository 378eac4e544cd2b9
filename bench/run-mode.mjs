// Runs one mode once: a fresh node process with the mode's preloads, on a
// reset redis-server, then checks that the mode did what it claims (all jobs
// completed, spans and metrics produced) so a broken mode can't pass as fast.
import { randomUUID } from 'node:crypto';
import { once } from 'node:events';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { CORES } from './machine.mjs';
import { tracedQueue } from './modes.mjs';
import { spawnTracked, waitForExit } from './processes.mjs';
import { freePort } from './redis-server.mjs';

const script = (file) => fileURLToPath(new URL(file, import.meta.url));
const WORKLOADS = {
  standard: script('./workload.mjs'),
  api: script('./api-workload.mjs'),
  rate: script('./rate-workload.mjs'),
  floor: script('./floor-workload.mjs'),
};
const ROOT = fileURLToPath(new URL('..', import.meta.url));
const SCRAPE_INTERVAL_MS = 2000;

/** Scrapes /metrics like Prometheus would, for the modes that serve it. */
function scrapeWhileRunning(port) {
  const timer = setInterval(() => {
    fetch(`http://127.0.0.1:${port}/metrics`)
      .then((res) => res.text())
      .catch(() => {});
  }, SCRAPE_INTERVAL_MS);
  return () => clearInterval(timer);
}

/**
 * Runs `script` once as a fresh node process with the mode's preloads and env,
 * on a reset redis-server. Resolves with the JSON the script wrote, or a failure.
 */
export async function runChild(
  mode,
  {
    script = WORKLOADS[mode.workload ?? 'standard'],
    redis,
    plan,
    nodeArgs = [],
    extraEnv = {},
    timeoutMs,
    core,
    otlp,
  },
) {
  if ((mode.export ?? 'none') !== 'none' && !otlp)
    throw new Error(
      `${mode.id} exports its spans: start the receiver (startReceiver) and pass it as otlp`,
    );
  await redis.reset();
  const runId = randomUUID();
  const ports = { metrics: await freePort(), health: await freePort() };
  const dir = mkdtempSync(join(tmpdir(), 'jobwatch-bench-'));
  const resultFile = join(dir, 'result.json');
  const env = {
    ...process.env,
    ...mode.env(ports),
    BENCH_PLAN: JSON.stringify(plan),
    BENCH_REDIS_PORT: String(redis.port),
    BENCH_BULLMQ: mode.bullmq,
    BENCH_TELEMETRY_OPTION: mode.telemetryOption,
    BENCH_METRICS_SOURCE: mode.metrics,
    BENCH_METRICS_PORT: String(ports.metrics),
    BENCH_RESULT_FILE: resultFile,
    BENCH_EXPORT: mode.export ?? 'none',
    BENCH_RUN_ID: runId,
    ...(otlp ? { BENCH_OTLP_URL: otlp.url } : {}),
    // jobwatch's own SDK (the zero-code path): configured by the standard variables only
    ...(mode.sdk === 'own' && otlp
      ? {
          OTEL_EXPORTER_OTLP_ENDPOINT: otlp.url,
          OTEL_RESOURCE_ATTRIBUTES: `bench.run=${runId}`,
          OTEL_TRACES_SAMPLER: 'always_on',
        }
      : {}),
    ...extraEnv,
  };
  const args = [...nodeArgs, ...mode.preload.flatMap((p) => ['--require', p]), script];
  const child = spawnTracked(process.execPath, args, {
    core,
    cwd: ROOT,
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const stopScraping = mode.metrics === 'prometheus' ? scrapeWhileRunning(ports.metrics) : () => {};
  const exit = await waitForExit(child, timeoutMs);
  stopScraping();
  try {
    if (exit.code !== 0) return { failure: describeExit(exit) };
    const result = JSON.parse(readFileSync(resultFile, 'utf8'));
    // What reached the receiver: the child flushed its exporter before it exited.
    if (otlp && (mode.export ?? 'none') !== 'none') {
      const got = await received(otlp, runId);
      result.received = got.total;
      // With jobwatch's own SDK nothing in the process counts spans: the receiver's count stands for them.
      if (mode.sdk === 'own') result.spans = got;
    }
    return { result };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** One benchmark run of a mode, checked: a mode that didn't do its work has no figures. */
export async function runMode(mode, options) {
  const { failure, result } = await runChild(mode, options);
  if (failure) return { mode: mode.id, status: 'failed', problems: [failure] };
  const problems = verify(mode, result);
  return { mode: mode.id, status: problems.length ? 'invalid' : 'ok', problems, ...result };
}

async function received(otlp, runId) {
  const res = await fetch(`${otlp.control}/?run=${encodeURIComponent(runId)}`);
  return res.json();
}

function describeExit({ code, signal, stderr }) {
  const tail = stderr.trim().split('\n').slice(-6).join('\n');
  return `exited with ${signal ?? `code ${code}`}: ${tail}`;
}

/** What must be true of a run for its numbers to mean anything. */
function verify(mode, result) {
  const problems = [];
  const { throughput, pickup } = result;
  if (throughput.completed < throughput.expected) {
    problems.push(`throughput: ${throughput.completed}/${throughput.expected} jobs completed`);
  }
  if (pickup && pickup.completed < pickup.expected) {
    problems.push(`pickup: ${pickup.completed}/${pickup.expected} jobs completed`);
  }
  if (mode.traced) {
    const processed = throughput.expected;
    const queue = tracedQueue(mode);
    const spans = result.spans?.byQueue?.[queue] ?? {};
    const total = Object.values(spans).reduce((a, b) => a + b, 0);
    if (!result.spans) problems.push('no span counts (the counting exporter was not installed)');
    else if (total < processed) {
      problems.push(
        `only ${total} spans for ${processed} jobs on ${queue} (expected at least one per job)`,
      );
    }
  }
  if (mode.metrics !== 'none') {
    const totals = Object.values(result.metrics ?? {});
    if (!totals.some((v) => v >= throughput.expected)) {
      problems.push(`no metric counted the ${throughput.expected} processed jobs`);
    }
  }
  return problems;
}

/** The OTLP receiver (receiver.mjs), in a process of its own on the Redis core. */
export async function startReceiver() {
  const child = spawnTracked(process.execPath, [script('./receiver.mjs')], {
    core: CORES.redis,
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const [line] = await once(createInterface({ input: child.stdout }), 'line');
  const { otlp, control } = JSON.parse(line);
  return { url: otlp, control, stop: () => child.kill() };
}
