// The per-process workload: one mode, one fresh node process. The orchestrator
// (run.mjs) starts it with the mode's preloads and env, and reads the JSON it
// writes to BENCH_RESULT_FILE. Every timing is taken after a warm-up.
import { writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { Redis } from 'ioredis';
import { quantile } from './stats.mjs';

const env = process.env;
const plan = JSON.parse(env.BENCH_PLAN);
const connection = {
  host: '127.0.0.1',
  port: Number(env.BENCH_REDIS_PORT),
  maxRetriesPerRequest: null,
};
const require = createRequire(import.meta.url);
// Loaded with require, as a CommonJS app would, so require-hooking instrumentations see it.
const bullmq = require(env.BENCH_BULLMQ);
const telemetryHandle = globalThis[Symbol.for('jobwatch.bench.telemetry')] ?? {};

const QUEUES = { throughput: 'bench-throughput', add: 'bench-add', pickup: 'bench-pickup' };
const noop = async () => {};

async function telemetryOption() {
  if (env.BENCH_TELEMETRY_OPTION !== 'bullmq-otel') return {};
  const { BullMQOtel } = await import('bullmq-otel');
  return { telemetry: new BullMQOtel({ enableMetrics: true }) };
}

/** Counts 'completed' events and lets a caller wait for the count to reach a target. */
function completions(worker) {
  let count = 0;
  let waiter;
  worker.on('completed', () => {
    count++;
    if (waiter && count >= waiter.target) waiter.resolve();
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

function jobsOf(n) {
  return Array.from({ length: n }, (_, i) => ({ name: 'noop', data: { i } }));
}

async function addInChunks(queue, n) {
  for (let done = 0; done < n; done += plan.chunk) {
    await queue.addBulk(jobsOf(Math.min(plan.chunk, n - done)));
  }
}

async function redisSnapshot(stats) {
  const [commands, cpu] = await Promise.all([stats.info('commandstats'), stats.info('cpu')]);
  const calls = {};
  for (const m of commands.matchAll(/^cmdstat_([^:]+):calls=(\d+)/gm)) {
    if (m[1] !== 'info') calls[m[1]] = Number(m[2]);
  }
  const seconds = (name) => Number(cpu.match(new RegExp(`^${name}:([\\d.]+)`, 'm'))[1]);
  return { calls, cpuUs: (seconds('used_cpu_user') + seconds('used_cpu_sys')) * 1e6 };
}

function redisDelta(before, after, jobs) {
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

/** addBulk `plan.jobs` no-op jobs while a Worker with `plan.concurrency` consumes them. */
async function throughput(extra, stats) {
  const queue = new bullmq.Queue(QUEUES.throughput, { connection, ...extra });
  const worker = new bullmq.Worker(QUEUES.throughput, noop, {
    connection,
    concurrency: plan.concurrency,
    removeOnComplete: { count: 1000 },
    ...extra,
  });
  const done = completions(worker);
  await worker.waitUntilReady();
  await addInChunks(queue, plan.warmup);
  await done.until(plan.warmup);

  const redisBefore = await redisSnapshot(stats);
  const cpuBefore = process.cpuUsage();
  const start = process.hrtime.bigint();
  await addInChunks(queue, plan.jobs);
  await done.until(plan.warmup + plan.jobs);
  const seconds = Number(process.hrtime.bigint() - start) / 1e9;
  const cpu = process.cpuUsage(cpuBefore);
  const redis = redisDelta(redisBefore, await redisSnapshot(stats), plan.jobs);

  await worker.close();
  await queue.close();
  return {
    jobs: plan.jobs,
    seconds,
    jobsPerSec: plan.jobs / seconds,
    cpuUsPerJob: (cpu.user + cpu.system) / plan.jobs,
    redis,
    completed: done.count,
    expected: plan.warmup + plan.jobs,
  };
}

/** Sequential Queue.add; returns each call's latency in ms. */
async function addLatency(extra) {
  const queue = new bullmq.Queue(QUEUES.add, { connection, ...extra });
  for (let i = 0; i < plan.addWarmup; i++) await queue.add('noop', { i });
  const samples = [];
  for (let i = 0; i < plan.adds; i++) {
    const t = process.hrtime.bigint();
    await queue.add('noop', { i });
    samples.push(Number(process.hrtime.bigint() - t) / 1e6);
  }
  await queue.close();
  return { p50: quantile(samples, 0.5), p99: quantile(samples, 0.99), samples: samples.length };
}

/** One job at a time: from just before Queue.add to the processor's first line, in ms. */
async function pickupLatency(extra) {
  let started;
  const queue = new bullmq.Queue(QUEUES.pickup, { connection, ...extra });
  const worker = new bullmq.Worker(
    QUEUES.pickup,
    async () => {
      started(process.hrtime.bigint());
    },
    { connection, concurrency: 1, removeOnComplete: { count: 1000 }, ...extra },
  );
  const done = completions(worker);
  await worker.waitUntilReady();
  const samples = [];
  const total = plan.pickupWarmup + plan.pickups;
  for (let i = 0; i < total; i++) {
    const processorStart = new Promise((resolve) => {
      started = resolve;
    });
    const t = process.hrtime.bigint();
    await queue.add('noop', { i });
    const latency = Number((await processorStart) - t) / 1e6;
    await done.until(i + 1);
    if (i >= plan.pickupWarmup) samples.push(latency);
  }
  await worker.close();
  await queue.close();
  return {
    p50: quantile(samples, 0.5),
    p99: quantile(samples, 0.99),
    samples: samples.length,
    completed: done.count,
    expected: total,
  };
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

async function readBack() {
  const out = {};
  if (telemetryHandle.spans) out.spans = await telemetryHandle.spans();
  if (env.BENCH_METRICS_SOURCE === 'reader' && telemetryHandle.metrics) {
    out.metrics = await telemetryHandle.metrics();
  } else if (env.BENCH_METRICS_SOURCE === 'prometheus') {
    out.metrics = await scrapeTotals();
  }
  return out;
}

async function main() {
  const extra = await telemetryOption();
  const stats = new Redis(connection);
  const result = {
    bullmqVersion: require(`${env.BENCH_BULLMQ}/package.json`).version,
    throughput: await throughput(extra, stats),
    add: await addLatency(extra),
    pickup: await pickupLatency(extra),
  };
  stats.disconnect();
  Object.assign(result, await readBack());
  result.peakRssMB = process.resourceUsage().maxRSS / 1024;
  writeFileSync(env.BENCH_RESULT_FILE, JSON.stringify(result));
  // jobwatch's servers and timers are not ours to stop; the result is written.
  process.exit(0);
}

await main();
