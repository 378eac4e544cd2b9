// The API-style workload (`*-api` modes): what a web app's request handlers
// do. `plan.apiClients` producers each add one job at a time with Queue.add
// (a 1 KB payload) and send the next once the worker has picked the last one
// up, so jobs never pile up beyond the worker's concurrency; each job awaits
// 1 ms of I/O. Reported: throughput, node CPU per job, and the pickup latency
// of every timed job (from just before its Queue.add to its processor's first line).
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

const QUEUE = 'bench-api';
const PAYLOAD = 'x'.repeat(1024);

async function main() {
  const { queue, worker, pickedUp, done } = await pickupRig(QUEUE);

  let next = 0;
  const samples = [];
  async function client(total, timed) {
    while (next < total) {
      const key = next++;
      const started = new Promise((resolve) => pickedUp.set(key, resolve));
      await queue.add('api', { key, sentAt: performance.now(), payload: PAYLOAD });
      const latency = await started;
      if (timed) samples.push(latency);
    }
  }
  const clients = (total, timed) =>
    Promise.all(Array.from({ length: plan.apiClients }, () => client(total, timed)));

  await clients(plan.apiWarmup, false);
  await done.until(plan.apiWarmup);
  const stats = new Redis(connection);
  const redisBefore = await redisSnapshot(stats);
  const cpu = cpuMeter();
  const start = process.hrtime.bigint();
  await profiled(async () => {
    await clients(plan.apiWarmup + plan.apiJobs, true);
    await done.until(plan.apiWarmup + plan.apiJobs);
  });
  const seconds = Number(process.hrtime.bigint() - start) / 1e9;
  const cpuPerJob = cpu(plan.apiJobs);
  const redis = redisDelta(redisBefore, await redisSnapshot(stats), plan.apiJobs);
  stats.disconnect();
  await worker.close();
  await queue.close();
  await finish({
    throughput: {
      jobs: plan.apiJobs,
      seconds,
      jobsPerSec: plan.apiJobs / seconds,
      ...cpuPerJob,
      redis,
      completed: done.count,
      expected: plan.apiWarmup + plan.apiJobs,
    },
    pickup: {
      p50: quantile(samples, 0.5),
      p99: quantile(samples, 0.99),
      samples: samples.length,
      completed: done.count,
      expected: plan.apiWarmup + plan.apiJobs,
    },
  });
}

await main();
