// The soak's child process: plan.soakJobs jobs through one Worker, in blocks
// of plan.sampleEvery, with jobs that complete, are retried, fail for good or
// stall, and the process's memory sampled after each block (after a full GC).
import { setTimeout as sleep } from 'node:timers/promises';
import { addInChunks, bullmq, connection, finish, plan, telemetryOption } from './child.mjs';

const QUEUE = 'bench-soak';
const RETRY_EVERY = 20; // this job fails its first attempt, then completes
const FAIL_EVERY = 100; // this job fails its only attempt
const STALL_EVERY = 10_000; // this job blocks the event loop past its lock: it and its neighbours stall
const LOCK_MS = 1000;

function job(i) {
  if (i % FAIL_EVERY === 1) return { name: 'fails', data: { i }, opts: { attempts: 1 } };
  if (i % RETRY_EVERY === 0) return { name: 'retries', data: { i }, opts: { attempts: 2 } };
  if (i % STALL_EVERY === 2) return { name: 'stalls', data: { i } };
  return { name: 'noop', data: { i } };
}

function busyWait(ms) {
  const until = Date.now() + ms;
  while (Date.now() < until) {}
}

async function processor(j) {
  if (j.name === 'fails' || (j.name === 'retries' && j.attemptsMade === 0)) {
    throw new Error('soak failure');
  }
  // Only the first run: once stalled, the job goes back to wait and then completes.
  if (j.name === 'stalls' && j.attemptsStarted <= 1) busyWait(LOCK_MS * 1.5);
}

function sample(jobs) {
  globalThis.gc?.();
  const { rss, heapUsed } = process.memoryUsage();
  return { jobs, rssMB: rss / 2 ** 20, heapMB: heapUsed / 2 ** 20 };
}

/** Counts of what happened to the jobs, from the worker's events. */
function outcomes(worker) {
  const counts = { completed: 0, failedAttempts: 0, failedForGood: 0, stalled: 0 };
  worker.on('completed', () => counts.completed++);
  worker.on('failed', (j) => {
    counts.failedAttempts++;
    if (j && j.attemptsMade >= (j.opts.attempts ?? 1)) counts.failedForGood++;
  });
  worker.on('stalled', () => counts.stalled++);
  worker.on('error', () => {}); // a stalled job's late completion is refused: expected here
  return counts;
}

/** Waits until no job of the queue is pending (stalled jobs come back through wait). */
async function drained(queue) {
  const pending = () => queue.getJobCountByTypes('waiting', 'active', 'delayed', 'prioritized');
  while ((await pending()) > 0) await sleep(100);
}

const extra = await telemetryOption();
const queue = new bullmq.Queue(QUEUE, { connection, ...extra });
const worker = new bullmq.Worker(QUEUE, processor, {
  connection,
  concurrency: plan.concurrency,
  lockDuration: LOCK_MS,
  stalledInterval: LOCK_MS,
  removeOnComplete: { count: 1000 },
  removeOnFail: { count: 1000 },
  ...extra,
});
const counts = outcomes(worker);
await worker.waitUntilReady();
const samples = [sample(0)];
for (let added = 0; added < plan.soakJobs; added += plan.sampleEvery) {
  await addInChunks(queue, plan.sampleEvery, (i) => job(added + i));
  await drained(queue);
  samples.push(sample(added + plan.sampleEvery));
}
await worker.close();
await queue.close();
const finished = counts.completed + counts.failedForGood;
await finish({ samples, counts, expected: plan.soakJobs, finished });
