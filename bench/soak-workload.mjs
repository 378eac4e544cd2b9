// The soak's child process: plan.soakJobs jobs through one Worker, in blocks
// of plan.sampleEvery, with some jobs retried and some failing for good, and
// the process's memory sampled after each block (after a full GC).
import {
  addInChunks,
  bullmq,
  connection,
  finish,
  finishedJobs,
  plan,
  telemetryOption,
} from './child.mjs';

const QUEUE = 'bench-soak';
const RETRY_EVERY = 20; // this job fails its first attempt, then completes
const FAIL_EVERY = 100; // this job fails its only attempt

function job(i) {
  if (i % FAIL_EVERY === 1) return { name: 'fails', data: { i }, opts: { attempts: 1 } };
  if (i % RETRY_EVERY === 0) return { name: 'retries', data: { i }, opts: { attempts: 2 } };
  return { name: 'noop', data: { i } };
}

async function processor(j) {
  if (j.name === 'fails' || (j.name === 'retries' && j.attemptsMade === 0)) {
    throw new Error('soak failure');
  }
}

function sample(jobs) {
  globalThis.gc?.();
  const { rss, heapUsed } = process.memoryUsage();
  return { jobs, rssMB: rss / 2 ** 20, heapMB: heapUsed / 2 ** 20 };
}

const extra = await telemetryOption();
const queue = new bullmq.Queue(QUEUE, { connection, ...extra });
const worker = new bullmq.Worker(QUEUE, processor, {
  connection,
  concurrency: plan.concurrency,
  removeOnComplete: { count: 1000 },
  removeOnFail: { count: 1000 },
  ...extra,
});
const done = finishedJobs(worker);
await worker.waitUntilReady();
const samples = [sample(0)];
for (let added = 0; added < plan.soakJobs; added += plan.sampleEvery) {
  await addInChunks(queue, plan.sampleEvery, (i) => job(added + i));
  await done.until(added + plan.sampleEvery);
  samples.push(sample(added + plan.sampleEvery));
}
await worker.close();
await queue.close();
await finish({ samples, finished: done.count, expected: plan.soakJobs });
