// The per-process workload: one mode, one fresh node process. The orchestrator
// (run.mjs) starts it with the mode's preloads and env, and reads the JSON it
// writes to BENCH_RESULT_FILE. Every timing is taken after a warm-up.
import { Redis } from 'ioredis';
import {
  addInChunks,
  bullmq,
  connection,
  finish,
  finishedJobs,
  plan,
  profiled,
  telemetryOption,
} from './child.mjs';
import { quantile } from './stats.mjs';

const QUEUES = { throughput: 'bench-throughput', add: 'bench-add', pickup: 'bench-pickup' };
const noop = async () => {};

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
  const done = finishedJobs(worker);
  await worker.waitUntilReady();
  await addInChunks(queue, plan.warmup);
  await done.until(plan.warmup);

  const redisBefore = await redisSnapshot(stats);
  const cpuBefore = process.cpuUsage();
  const start = process.hrtime.bigint();
  await profiled(async () => {
    await addInChunks(queue, plan.jobs);
    await done.until(plan.warmup + plan.jobs);
  });
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
  const done = finishedJobs(worker);
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

async function main() {
  const extra = await telemetryOption();
  const stats = new Redis(connection);
  const result = {
    throughput: await throughput(extra, stats),
    add: await addLatency(extra),
    pickup: await pickupLatency(extra),
  };
  stats.disconnect();
  await finish(result);
}

await main();
