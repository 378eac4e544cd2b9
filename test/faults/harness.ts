// Shared setup of the fault suite: the fixture app (test/faults/fixtures/app.cjs)
// started with or without the preload, jobs enqueued from the test, what
// became of them read back from Redis, and the probes a fault test measures
// with (RSS, listening sockets, registry entries, /metrics samples).
// Needs `npm run build` (the preload runs from dist/).
import { readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { Job, type JobsOptions, Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { afterEach, expect } from 'vitest';
import { startOtlpReceiver } from '../../examples/otlp-receiver.mjs';
import { instanceKeyPrefix, leaseKey } from '../../src/backends/redis/keys.js';
import { BULLMQ_PATH } from '../helpers/bullmq-majors.js';
import { type NodeProcess, spawnNode } from '../helpers/node-process.js';
import { freePort, waitFor } from '../helpers/ports.js';
import { type PreloadedSetup, type Receiver, usePreloadedSetup } from '../helpers/preloaded.js';
import type { RedisServer } from '../helpers/redis.js';
import { type Exposition, find, scrape } from '../metrics/scrape.js';

/** Heartbeat interval of every preloaded fixture: short, so faults show within a second. */
export const INTERVAL_MS = 250;

/** The child processes run the same BullMQ as the test (JOBWATCH_TEST_BULLMQ). */
const BULLMQ = BULLMQ_PATH;

const FIXTURE = 'test/faults/fixtures/app.cjs';

export interface App {
  proc: NodeProcess;
  metricsUrl: string;
}

export interface AppOptions {
  /** Start with `--require jobwatch/register` (default true); false is the control run. */
  preload?: boolean;
  /** Modules --require'd before the preload (e.g. a fake clock). */
  requires?: string[];
  /** Wait for the app's "ready" line (default true). */
  ready?: boolean;
}

/**
 * The test file's Redis and OTLP receiver, and processes killed after each
 * test (test/helpers/preloaded.ts); the Queue clients of queueOf closed too.
 */
export function useFaultSetup(): PreloadedSetup {
  const setup = usePreloadedSetup();
  afterEach(closeQueues);
  return setup;
}

/** Starts the fixture app against `redisUrl`; `env` is added to the fault suite's defaults. */
export async function startApp(
  redisUrl: string,
  env: Record<string, string> = {},
  { preload = true, requires = [], ready = true }: AppOptions = {},
): Promise<App> {
  const metricsPort = await freePort();
  const preloads = [...requires, ...(preload ? ['jobwatch/register'] : [])];
  const proc = spawnNode([...preloads.flatMap((p) => ['--require', p]), FIXTURE], {
    BULLMQ,
    REDIS_URL: redisUrl,
    OTEL_TRACES_EXPORTER: 'none',
    OTEL_EXPORTER_PROMETHEUS_PORT: String(metricsPort),
    JOBWATCH_HEARTBEAT_INTERVAL_MS: String(INTERVAL_MS),
    JOBWATCH_COLLECT_CACHE_MS: '100',
    ...env,
  });
  const app = { proc, metricsUrl: `http://127.0.0.1:${metricsPort}/metrics` };
  if (ready) {
    await waitFor(() => lines(proc, 'ready').length > 0 || !proc.running, {
      what: 'the app to be ready',
      timeoutMs: 20_000,
    });
    expect(proc.running, proc.stderr).toBe(true);
    // A view is the fleet view in these tests: it takes the lease before any worker starts
    // (else a worker may hold it, and the view would report no other process's workers).
    if (env.ROLE === 'view' && preload && env.JOBWATCH_REGISTRY_VIEW !== 'false') {
      await waitFor(() => holdsLease(redisUrl, proc), { what: 'the view to hold the lease' });
    }
  }
  return app;
}

async function holdsLease(redisUrl: string, proc: NodeProcess): Promise<boolean> {
  const client = new Redis(redisUrl, { lazyConnect: true, maxRetriesPerRequest: 0 });
  try {
    return (await client.get(leaseKey('bull')))?.includes(`:${proc.pid}:`) ?? false;
  } finally {
    client.disconnect();
  }
}

/** Environment that sends an app's spans to `endpoint` quickly. */
export function tracesTo(endpoint: string): Record<string, string> {
  return {
    OTEL_TRACES_EXPORTER: 'otlp',
    OTEL_EXPORTER_OTLP_ENDPOINT: endpoint,
    OTEL_BSP_SCHEDULE_DELAY: '100',
  };
}

/** The values printed after `word` on lines of the app's stdout ("processed 7" → "7"). */
export function lines(proc: NodeProcess, word: string): string[] {
  const pattern = new RegExp(`^${word}(?: (.*))?$`, 'gm');
  return [...proc.stdout.matchAll(pattern)].map((m) => m[1] ?? '');
}

/** jobwatch's stderr lines (errors, warnings, notices). */
export function jobwatchLines(proc: NodeProcess): string[] {
  return proc.stderr.split('\n').filter((l) => l.startsWith('[jobwatch]'));
}

/** Fails if jobwatch printed the same kind of warning twice (it may say each once a minute). */
export function expectNoRepeatedWarnings(proc: NodeProcess): void {
  const warnings = jobwatchLines(proc).filter((l) => l.includes('warning:'));
  const kinds = warnings.map((l) => l.replace(/\d+/g, 'N'));
  expect(kinds, warnings.join('\n')).toEqual([...new Set(kinds)]);
}

export interface JobSpec {
  name: string;
  data?: unknown;
  opts?: JobsOptions;
}

/** A Queue client of the test (closed with closeQueues). */
const queues: Queue[] = [];
const serverOf = new WeakMap<Queue, RedisServer>();
export function queueOf(redis: RedisServer, name: string): Queue {
  const queue = new Queue(name, { connection: redis.connection });
  queue.on('error', () => undefined); // Redis outages are the point of some tests
  queues.push(queue);
  serverOf.set(queue, redis);
  return queue;
}

export async function closeQueues(): Promise<void> {
  await Promise.all(queues.splice(0).map((q) => q.close().catch(() => undefined)));
}

/** Adds `jobs` in bulks of 1000; resolves with their ids in order. */
export async function enqueue(queue: Queue, jobs: JobSpec[]): Promise<string[]> {
  const ids: string[] = [];
  for (let i = 0; i < jobs.length; i += 1000) {
    const added = await queue.addBulk(jobs.slice(i, i + 1000) as never);
    ids.push(...added.map((j) => j.id!));
  }
  return ids;
}

export const repeat = (n: number, spec: JobSpec): JobSpec[] =>
  Array.from({ length: n }, () => spec);

/** Ids in the queue's completed and failed sets. */
export async function finished(queue: Queue): Promise<{ completed: string[]; failed: string[] }> {
  const client = serverOf.get(queue)!.client();
  try {
    const [completed, failed] = await Promise.all([
      client.zrange(`bull:${queue.name}:completed`, '0', '-1'),
      client.zrange(`bull:${queue.name}:failed`, '0', '-1'),
    ]);
    return { completed, failed };
  } finally {
    client.disconnect();
  }
}

/** Waits until every id in `ids` is completed or failed; returns the two sets. */
export async function allFinished(queue: Queue, ids: string[], timeoutMs = 30_000) {
  return waitFor(
    async () => {
      const done = await finished(queue);
      return done.completed.length + done.failed.length >= ids.length ? done : undefined;
    },
    { what: `${ids.length} jobs of ${queue.name} finished`, timeoutMs, intervalMs: 100 },
  );
}

/**
 * The "nothing lost, nothing run twice" check: every enqueued id is completed
 * (or failed, for `failedIds`), and the processors ran each job once, unless
 * it is one of `mayRepeat` (a job BullMQ itself hands out again after a stall).
 */
export async function expectEachJobOnce(
  queue: Queue,
  ids: string[],
  ranIn: NodeProcess[],
  { failedIds = [] as string[], mayRepeat = [] as string[] } = {},
): Promise<void> {
  const done = await allFinished(queue, ids);
  expect(new Set(done.failed)).toEqual(new Set(failedIds));
  expect(new Set(done.completed)).toEqual(new Set(ids.filter((id) => !failedIds.includes(id))));
  // Redis can say "completed" before the last "processed" lines have crossed the
  // children's stdout pipes into this process: they get a moment to arrive.
  const expected = ids.length - failedIds.length;
  const ranLines = () => ranIn.flatMap((p) => lines(p, 'processed'));
  await waitFor(() => new Set(ranLines()).size >= expected, {
    what: 'a "processed" line for every job',
    timeoutMs: 5000,
  }).catch(() => undefined); // the assertions below say what is missing
  const ran = ranLines();
  const twice = ran.filter((id, i) => ran.indexOf(id) !== i && !mayRepeat.includes(id));
  expect(twice).toEqual([]);
  expect(new Set(ran)).toEqual(new Set(ids.filter((id) => !failedIds.includes(id))));
}

/** Everything a user can see of a finished job, for comparing a run with its control. */
export async function outcomeOf(queue: Queue, id: string) {
  const job = await Job.fromId(queue, id);
  if (!job) return { state: 'missing' };
  return {
    state: await job.getState(),
    name: job.name,
    data: job.data,
    returnvalue: job.returnvalue,
    failedReason: job.failedReason,
    attemptsMade: job.attemptsMade,
    stacktrace: job.stacktrace?.map((s) => s.split('\n')[0]),
    opts: { ...job.opts, telemetry: undefined },
  };
}

/** One scrape of an app's /metrics. */
export function metricsOf(app: App): Promise<Exposition> {
  return scrape(app.metricsUrl);
}

/** The one sample of `name` with `labels` on `app`'s /metrics (undefined: no such series). */
export async function sampleOf(
  app: App,
  name: string,
  labels: Record<string, string>,
): Promise<number | undefined> {
  return find(await metricsOf(app), name, labels)[0]?.value;
}

/** Polls until `app` reports `value` for the sample; resolves with how long that took (ms). */
export async function sampleBecomes(
  app: App,
  name: string,
  labels: Record<string, string>,
  value: number,
  timeoutMs = 15_000,
): Promise<number> {
  const since = performance.now();
  await waitFor(async () => (await sampleOf(app, name, labels)) === value, {
    what: `${name}${JSON.stringify(labels)} == ${value}`,
    timeoutMs,
    intervalMs: 25,
  }).catch((err: Error) => {
    // what the app said (a port it could not listen on, a crash) is the first thing to read
    throw new Error(`${err.message}\nthe app's stderr:\n${app.proc.stderr.slice(-2000)}`);
  });
  return performance.now() - since;
}

/** Asks the app (SIGUSR2) for its longest event-loop delay since the last ask, and its memory after a full GC. */
export async function probe(app: App): Promise<{ loopDelayMs: number; rss: number; heap: number }> {
  const before = lines(app.proc, 'memory').length;
  app.proc.child.kill('SIGUSR2');
  await waitFor(() => lines(app.proc, 'memory').length > before, { what: 'the probe' });
  const [rss, heap] = lines(app.proc, 'memory').at(-1)!.match(/\d+/g)!.map(Number);
  const delay = lines(app.proc, 'loop-delay').at(-1)!;
  return { loopDelayMs: Number(delay.slice('max_ms='.length)), rss: rss!, heap: heap! };
}

/** The registry entries jobwatch keeps in Redis (bull prefix), as raw hashes. */
export async function registryEntries(redis: RedisServer): Promise<Record<string, string>[]> {
  const client = redis.client();
  try {
    const keys = await client.keys(`${instanceKeyPrefix('bull')}*`);
    return await Promise.all(keys.map((k) => client.hgetall(k)));
  } finally {
    client.disconnect();
  }
}

/** Resident set size of a process, in bytes, from /proc. */
export function rssOf(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  return Number(/^VmRSS:\s+(\d+) kB/m.exec(status)![1]) * 1024;
}

/** `address:port` of every TCP socket the process listens on (from /proc, IPv4 and IPv6). */
export function listeningSockets(pid: number): string[] {
  const inodes = new Set<string>();
  for (const fd of readdirSync(`/proc/${pid}/fd`)) {
    try {
      const m = /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/${pid}/fd/${fd}`));
      if (m) inodes.add(m[1]!);
    } catch {
      // the fd closed while we looked
    }
  }
  const out: string[] = [];
  for (const table of ['tcp', 'tcp6']) {
    const rows = readFileSync(`/proc/${pid}/net/${table}`, 'utf8').split('\n').slice(1);
    for (const row of rows) {
      const cols = row.trim().split(/\s+/);
      if (cols[3] !== '0A' || !inodes.has(cols[9]!)) continue; // 0A = LISTEN
      const [addr, port] = cols[1]!.split(':');
      out.push(`${hexAddress(addr!)}:${Number.parseInt(port!, 16)}`);
    }
  }
  return out;
}

function hexAddress(hex: string): string {
  if (hex.length === 8) {
    return [6, 4, 2, 0].map((i) => Number.parseInt(hex.slice(i, i + 2), 16)).join('.');
  }
  return hex === '0'.repeat(32) ? '::' : `[${hex}]`;
}

/**
 * Restarts Redis as a production server with persistence comes back:
 * SHUTDOWN SAVE (no command runs after the snapshot), then `whileDown` (at
 * least `downMs`), then the same port with the same data. Resolves with the
 * moment Redis answered again (performance.now()).
 */
export async function restartRedis(
  redis: RedisServer,
  downMs: number,
  whileDown: () => Promise<unknown> = async () => undefined,
): Promise<number> {
  // A client that never retries: a retried SHUTDOWN would stop the restarted server.
  const client = new Redis({
    port: redis.port,
    retryStrategy: () => null,
    maxRetriesPerRequest: 0,
  });
  client.on('error', () => undefined);
  await client.call('SHUTDOWN', 'SAVE').catch(() => undefined); // the reply is the closed connection
  client.disconnect();
  await redis.stop();
  await Promise.all([whileDown(), new Promise((r) => setTimeout(r, downMs))]);
  await redis.resume();
  return performance.now();
}

/** The real OTLP/HTTP receiver of examples/, on `port` (0 = any). */
export function otlpReceiver(port = 0): Promise<Receiver> {
  return startOtlpReceiver({ port });
}

export type CollectorFault = 'slow' | 500 | 429;

export interface FaultyCollector {
  url: string;
  port: number;
  /** Export requests received so far. */
  requests: number;
  close(): Promise<void>;
}

/** An OTLP endpoint that answers every export with `fault` ('slow': 200 after 10 s). */
export async function faultyCollector(fault: CollectorFault): Promise<FaultyCollector> {
  const port = await freePort();
  const collector: FaultyCollector = {
    url: `http://127.0.0.1:${port}`,
    port,
    requests: 0,
    close: () => closeServer(server),
  };
  const server: Server = createServer((req, res) => {
    collector.requests++;
    req.resume();
    req.on('end', () => {
      if (fault === 'slow') setTimeout(() => res.writeHead(200).end(), 10_000).unref();
      else res.writeHead(fault, fault === 429 ? { 'retry-after': '1' } : {}).end();
    });
  });
  await new Promise<void>((ok) => server.listen(port, '127.0.0.1', ok));
  return collector;
}

function closeServer(server: Server): Promise<void> {
  return new Promise((ok) => {
    server.close(() => ok());
    server.closeAllConnections();
  });
}
