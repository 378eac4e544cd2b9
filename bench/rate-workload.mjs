// The fixed-rate workload (`*-rate` modes): jobs arrive at plan.rate per
// second whatever the telemetry costs, as in production, where the question is
// not "how fast can it go" but "how many more cores do my workers need".
// Producers add one job at a time with Queue.add (a 1 KB payload) on a
// schedule; each job awaits 1 ms of I/O; the worker runs plan.concurrency at
// once. Reported: node CPU per job over the timed window (the figure that
// answers the question), the rate achieved, and the pickup latency of every
// timed job (from just before its Queue.add to its processor's first line).
import { setTimeout as sleep } from 'node:timers/promises';
import { Redis } from 'ioredis';
import {
  connection,
  cpuMeter,
  finish,
  pickupRig,
  plan,
  profiled,
  redisDelta,
  redisSnapshot,
} from './child.mjs';
import { quantile } from './stats.mjs';

const QUEUE = 'bench-rate';
const PAYLOAD = 'x'.repeat(1024);
/** How often the producer catches up with the schedule. */
const TICK_MS = 5;

/** Adds `total` jobs at plan.rate per second, on schedule; resolves once all are added. */
async function produce(queue, total, timed, samples, pickedUp) {
  const started = performance.now();
  let sent = 0;
  const adds = [];
  while (sent < total) {
    const due = Math.min(total, Math.floor(((performance.now() - started) / 1000) * plan.rate));
    for (; sent < due; sent++) {
      const key = `${timed ? 't' : 'w'}${sent}`;
      if (timed) pickedUp.set(key, (ms) => samples.push(ms));
      adds.push(queue.add('rate', { key, sentAt: performance.now(), payload: PAYLOAD }));
    }
    await sleep(TICK_MS);
  }
  await Promise.all(adds);
}

async function main() {
  const { queue, worker, pickedUp, done } = await pickupRig(QUEUE);
  const warmup = Math.round(plan.rate * plan.rateWarmupSeconds);
  const jobs = Math.round(plan.rate * plan.rateSeconds);
  await produce(queue, warmup, false, [], pickedUp);
  await done.until(warmup);

  const samples = [];
  const stats = new Redis(connection);
  const redisBefore = await redisSnapshot(stats);
  const cpu = cpuMeter();
  const start = process.hrtime.bigint();
  await profiled(async () => {
    await produce(queue, jobs, true, samples, pickedUp);
    await done.until(warmup + jobs);
  });
  const seconds = Number(process.hrtime.bigint() - start) / 1e9;
  const cpuPerJob = cpu(jobs);
  const redis = redisDelta(redisBefore, await redisSnapshot(stats), jobs);
  stats.disconnect();
  await worker.close();
  await queue.close();
  await finish({
    throughput: {
      jobs,
      seconds,
      jobsPerSec: jobs / seconds,
      targetRate: plan.rate,
      ...cpuPerJob,
      redis,
      completed: done.count,
      expected: warmup + jobs,
    },
    pickup: {
      p50: quantile(samples, 0.5),
      p99: quantile(samples, 0.99),
      samples: samples.length,
      completed: done.count,
      expected: warmup + jobs,
    },
  });
}

await main();
