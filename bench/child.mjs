// What every benchmark child process shares: its settings from the
// orchestrator, BullMQ loaded the way the mode says, and how it reports back.
import { writeFileSync } from 'node:fs';
import { Session } from 'node:inspector/promises';
import { createRequire } from 'node:module';
import { setTimeout as sleep } from 'node:timers/promises';

export const env = process.env;
export const plan = JSON.parse(env.BENCH_PLAN);
export const connection = {
  host: '127.0.0.1',
  port: Number(env.BENCH_REDIS_PORT),
  maxRetriesPerRequest: null,
};
const require = createRequire(import.meta.url);
// Loaded with require, as a CommonJS app would, so require-hooking instrumentations see it.
export const bullmq = require(env.BENCH_BULLMQ);
const bullmqVersion = require(`${env.BENCH_BULLMQ}/package.json`).version;
const telemetryHandle = globalThis[Symbol.for('jobwatch.bench.telemetry')] ?? {};

/** Queue/Worker options that turn on the mode's BullMQ-native telemetry, if any. */
export async function telemetryOption() {
  if (env.BENCH_TELEMETRY_OPTION !== 'bullmq-otel') return {};
  const { BullMQOtel } = await import('bullmq-otel');
  return { telemetry: new BullMQOtel({ enableMetrics: true }) };
}

/**
 * Runs `phase`, under the CPU profiler when BENCH_CPU_PROFILE names a file to
 * write the profile to, or under V8's sampling heap profiler when
 * BENCH_ALLOC_PROFILE does (every allocation, collected or not: what the
 * garbage collector has to deal with). A profile holds the measured phase
 * and nothing else.
 */
export async function profiled(phase) {
  const cpu = env.BENCH_CPU_PROFILE;
  const alloc = env.BENCH_ALLOC_PROFILE;
  if (!cpu && !alloc) return phase();
  const session = new Session();
  session.connect();
  if (cpu) {
    await session.post('Profiler.enable');
    await session.post('Profiler.setSamplingInterval', { interval: 200 });
    await session.post('Profiler.start');
  } else {
    await session.post('HeapProfiler.enable');
    await session.post('HeapProfiler.startSampling', {
      samplingInterval: 1024,
      includeObjectsCollectedByMajorGC: true,
      includeObjectsCollectedByMinorGC: true,
    });
  }
  try {
    return await phase();
  } finally {
    const { profile } = await session.post(cpu ? 'Profiler.stop' : 'HeapProfiler.stopSampling');
    writeFileSync(cpu ?? alloc, JSON.stringify(profile));
    session.disconnect();
  }
}

/** Counts jobs that reached an end state (completed, or failed for good) and waits for a count. */
export function finishedJobs(worker) {
  let count = 0;
  let waiter;
  const finished = () => {
    count++;
    if (waiter && count >= waiter.target) waiter.resolve();
  };
  worker.on('completed', finished);
  worker.on('failed', (job) => {
    if (job && job.attemptsMade >= (job.opts.attempts ?? 1)) finished();
  });
  return {
    get count() {
      return count;
    },
    until(target) {
      if (count >= target) return Promise.resolve();
      return new Promise((resolve) => {
        waiter = { target, resolve };
      });
    },
  };
}

/** Adds n jobs with addBulk, plan.chunk at a time; `job(i)` gives each job's {name, data, opts}. */
export async function addInChunks(queue, n, job = (i) => ({ name: 'noop', data: { i } })) {
  for (let start = 0; start < n; start += plan.chunk) {
    const size = Math.min(plan.chunk, n - start);
    await queue.addBulk(Array.from({ length: size }, (_, k) => job(start + k)));
  }
}

/** Sums of the counters and histogram counts on this process's own /metrics. */
async function scrapeTotals() {
  const text = await (await fetch(`http://127.0.0.1:${env.BENCH_METRICS_PORT}/metrics`)).text();
  const totals = {};
  for (const m of text.matchAll(
    /^([a-zA-Z_:][\w:]*?(?:_total|_count))(?:\{[^}]*\})? ([\d.eE+-]+)/gm,
  )) {
    totals[m[1]] = (totals[m[1]] ?? 0) + Number(m[2]);
  }
  return totals;
}

/** The spans and metrics the mode produced, as its telemetry saw them. */
async function telemetryTotals() {
  const out = {};
  if (telemetryHandle.spans) out.spans = await telemetryHandle.spans();
  if (env.BENCH_METRICS_SOURCE === 'reader' && telemetryHandle.metrics) {
    out.metrics = await telemetryHandle.metrics();
  } else if (env.BENCH_METRICS_SOURCE === 'prometheus') {
    out.metrics = await scrapeTotals();
  }
  return out;
}

/** Writes the result for the orchestrator and ends the process. */
export async function finish(result) {
  Object.assign(result, { bullmqVersion }, await telemetryTotals());
  result.peakRssMB = process.resourceUsage().maxRSS / 1024;
  writeFileSync(env.BENCH_RESULT_FILE, JSON.stringify(result));
  // jobwatch's servers and timers are not ours to stop; the result is written.
  process.exit(0);
}

/** INFO commandstats and CPU of the benchmark's redis-server, through `stats` (a connection of its own). */
export async function redisSnapshot(stats) {
  const [commands, cpu] = await Promise.all([stats.info('commandstats'), stats.info('cpu')]);
  const calls = {};
  for (const m of commands.matchAll(/^cmdstat_([^:]+):calls=(\d+)/gm)) {
    if (m[1] !== 'info') calls[m[1]] = Number(m[2]);
  }
  const seconds = (name) => Number(cpu.match(new RegExp(`^${name}:([\\d.]+)`, 'm'))[1]);
  return { calls, cpuUs: (seconds('used_cpu_user') + seconds('used_cpu_sys')) * 1e6 };
}

/** Commands per job (each command name too) and Redis CPU per job between two snapshots. */
export function redisDelta(before, after, jobs) {
  const perCommand = {};
  let total = 0;
  for (const [name, calls] of Object.entries(after.calls)) {
    const delta = calls - (before.calls[name] ?? 0);
    if (delta > 0) perCommand[name] = delta / jobs;
    total += delta;
  }
  return {
    commandsPerJob: total / jobs,
    perCommand,
    cpuUsPerJob: (after.cpuUs - before.cpuUs) / jobs,
  };
}

/**
 * Starts counting node's CPU; the returned function gives it per job: every
 * thread of the process (V8's garbage-collection and compiler helpers too),
 * and the main thread alone (an older Node without process.threadCpuUsage,
 * such as 22.0, reports none: the table shows –).
 */
export function cpuMeter() {
  const all = process.cpuUsage();
  const main = process.threadCpuUsage?.();
  return (jobs) => {
    const a = process.cpuUsage(all);
    const m = main && process.threadCpuUsage(main);
    return {
      cpuUsPerJob: (a.user + a.system) / jobs,
      mainThreadCpuUsPerJob: m ? (m.user + m.system) / jobs : undefined,
    };
  };
}

/**
 * A queue and a worker (1 ms per job) whose processor reports each job's pickup
 * latency: the producer puts `{ key, sentAt }` in the job and a callback under
 * `key` in `pickedUp`, called with the milliseconds from `sentAt` to the start.
 */
export async function pickupRig(name) {
  const extra = await telemetryOption();
  const queue = new bullmq.Queue(name, { connection, ...extra });
  const pickedUp = new Map();
  const worker = new bullmq.Worker(
    name,
    async (job) => {
      const { key, sentAt } = job.data;
      pickedUp.get(key)?.(performance.now() - sentAt);
      pickedUp.delete(key);
      await sleep(1);
    },
    { connection, concurrency: plan.concurrency, removeOnComplete: { count: 1000 }, ...extra },
  );
  const done = finishedJobs(worker);
  await worker.waitUntilReady();
  return { queue, worker, pickedUp, done };
}
