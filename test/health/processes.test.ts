// Worker health across real processes started with `--require jobwatch/register`:
// workers die, freeze, hang and stop; another process's /metrics and health
// endpoints must say so. Needs `npm run build` (the preload runs from dist/).
import { Queue } from 'bullmq';
import { describe, expect, it } from 'vitest';
import { beatsKey, leaseKey } from '../../src/backends/redis/keys.js';
import { MISSED_BEATS_FOR_DEAD } from '../../src/registry/liveness.js';
import { type NodeProcess, spawnNode } from '../helpers/node-process.js';
import { freePort, waitFor } from '../helpers/ports.js';
import { scrape } from '../metrics/scrape.js';
import { redisPerFile } from './redis-per-file.js';

const INTERVAL = 500;
const FIXTURES = './test/health/fixtures';
const redis = redisPerFile();

interface Started {
  proc: NodeProcess;
  metricsPort: number;
  healthPort: number;
}

async function start(
  app: string,
  env: Record<string, string> = {},
  preloads: string[] = [],
): Promise<Started> {
  const metricsPort = await freePort();
  const healthPort = await freePort();
  const proc = spawnNode(
    [
      ...preloads.flatMap((p) => ['--require', p]),
      '--require',
      'jobwatch/register',
      `${FIXTURES}/${app}`,
    ],
    {
      REDIS_URL: redis.server.url,
      OTEL_TRACES_EXPORTER: 'none',
      OTEL_EXPORTER_PROMETHEUS_PORT: String(metricsPort),
      JOBWATCH_HEALTH_PORT: String(healthPort),
      JOBWATCH_HEARTBEAT_INTERVAL_MS: String(INTERVAL),
      ...env,
    },
  );
  await waitFor(() => proc.stdout.includes('ready') || !proc.running, { what: `${app} ready` });
  expect(proc.running, proc.stderr).toBe(true);
  // The "API" process is the fleet view in these tests: it takes the lease before any worker starts.
  if (app === 'view-app.cjs')
    await waitFor(() => holdsLease(proc), { what: `${app} holds the lease` });
  return { proc, metricsPort, healthPort };
}

async function holdsLease(proc: NodeProcess): Promise<boolean> {
  const client = redis.server.client();
  try {
    return (await client.get(leaseKey('bull')))?.includes(`:${proc.pid}:`) ?? false;
  } finally {
    client.disconnect();
  }
}

/** worker_status for a worker name as the process's /metrics reports it (undefined = no series). */
async function status(view: Started, name: string): Promise<number | undefined> {
  const { samples } = await scrape(`http://127.0.0.1:${view.metricsPort}/metrics`);
  return samples.find((s) => s.name === 'worker_status' && s.labels.bullmq_worker_name === name)
    ?.value;
}

async function queuesReport(view: Started, token?: string) {
  const res = await fetch(`http://127.0.0.1:${view.healthPort}/health/queues`, {
    headers: token ? { authorization: `Bearer ${token}` } : {},
  });
  return { code: res.status, body: (await res.json()) as any };
}

/** Polls until `name`'s worker_status is `value`; returns how long that took (ms). */
async function statusBecomes(view: Started, name: string, value: number, timeoutMs = 10_000) {
  const since = performance.now();
  await waitFor(async () => (await status(view, name)) === value, {
    timeoutMs,
    intervalMs: 25,
    what: `worker_status{${name}} == ${value}`,
  });
  return performance.now() - since;
}

describe('worker_status across processes', () => {
  it('a SIGKILLed worker shows worker_status 0 on another process within 3 intervals', async () => {
    const view = await start('view-app.cjs', { QUEUE: 'kill' });
    const worker = await start('worker-app.cjs', { WORKERS: 'kill' });
    await statusBecomes(view, 'kill', 1);
    const { samples } = await scrape(`http://127.0.0.1:${view.metricsPort}/metrics`);
    const series = samples.filter((s) => s.name === 'worker_status');
    expect(series.every((s) => !('pid' in s.labels) && !('host' in s.labels))).toBe(true);
    worker.proc.child.kill('SIGKILL');
    const detectedMs = await statusBecomes(view, 'kill', 0);
    console.log(
      `SIGKILL -> worker_status 0 in ${Math.round(detectedMs)} ms (interval ${INTERVAL} ms)`,
    );
    // The design's bound (3 beats plus one collection), with a margin for a loaded machine.
    expect(detectedMs).toBeLessThanOrEqual(MISSED_BEATS_FOR_DEAD * INTERVAL + 2000);
    const { code, body } = await queuesReport(view);
    expect(code).toBe(503);
    expect(body.workers.kill).toMatchObject({ alive: false, state: 'dead', pid: worker.proc.pid });
  });

  it('SIGTERM makes the status 0 at once and the registry says it stopped cleanly', async () => {
    const view = await start('view-app.cjs', { QUEUE: 'term' });
    const worker = await start('worker-app.cjs', { WORKERS: 'term' });
    await statusBecomes(view, 'term', 1);
    expect((await worker.proc.stop('SIGTERM')).signal).toBe('SIGTERM'); // the app's default death is kept
    // Well before 3 missed beats: the process wrote "stopped" on its way out.
    const shownMs = await statusBecomes(view, 'term', 0, 2 * INTERVAL);
    console.log(`SIGTERM -> worker_status 0 in ${Math.round(shownMs)} ms after exit`);
    const { body } = await queuesReport(view);
    // "stopped" is only ever written by the process itself: no waiting for missed beats.
    expect(body.workers.term).toMatchObject({ alive: false, status: 0, state: 'stopped' });
    expect(body.workers.term.reason).toMatch(/process is exiting/);
  });

  it('an app that closes its workers on SIGTERM is reported "stopped cleanly (worker.close())"', async () => {
    const view = await start('view-app.cjs', { QUEUE: 'graceful' });
    const worker = await start('worker-app.cjs', { WORKERS: 'graceful', APP_SIGTERM: '1' });
    await statusBecomes(view, 'graceful', 1);
    expect((await worker.proc.stop('SIGTERM')).code).toBe(0);
    await statusBecomes(view, 'graceful', 0, 2 * INTERVAL);
    const { body } = await queuesReport(view);
    expect(body.workers.graceful).toMatchObject({ state: 'stopped' });
    expect(body.workers.graceful.reason).toMatch(/worker\.close\(\)/);
    expect(body.status).toBe('healthy'); // a deliberate stop is not a failure
  });

  it('SIGSTOP is detected as down, SIGCONT brings it back to 1', async () => {
    const view = await start('view-app.cjs', { QUEUE: 'frozen' });
    const worker = await start('worker-app.cjs', { WORKERS: 'frozen' });
    await statusBecomes(view, 'frozen', 1);
    worker.proc.child.kill('SIGSTOP');
    await statusBecomes(view, 'frozen', 0);
    expect((await queuesReport(view)).body.workers.frozen.reason).toMatch(/no heartbeat/);
    worker.proc.child.kill('SIGCONT');
    await statusBecomes(view, 'frozen', 1);
    const { body } = await queuesReport(view);
    expect(body.workers.frozen.reason).toMatch(/event loop was blocked/);
  });

  it('a job that blocks the event loop is detected, and the worker comes back after it', async () => {
    const view = await start('view-app.cjs', { QUEUE: 'busy' });
    await start('worker-app.cjs', { WORKERS: 'busy' });
    await statusBecomes(view, 'busy', 1);
    const queue = new Queue('busy', { connection: redis.server.connection });
    await queue.add('busy', { ms: 6 * INTERVAL });
    await statusBecomes(view, 'busy', 0);
    await statusBecomes(view, 'busy', 1);
    const { body } = await queuesReport(view);
    expect(body.workers.busy.reason).toMatch(/event loop was blocked for \d/);
    await queue.close();
  });

  it('a job active longer than JOBWATCH_STUCK_JOB_MS sets status 0 with the reason, and the age gauge', async () => {
    const view = await start('view-app.cjs', { QUEUE: 'stuck' });
    await start('worker-app.cjs', { WORKERS: 'stuck', JOBWATCH_STUCK_JOB_MS: '1500' });
    await statusBecomes(view, 'stuck', 1);
    const queue = new Queue('stuck', { connection: redis.server.connection });
    await queue.add('stuck', {});
    await statusBecomes(view, 'stuck', 0);
    const { body } = await queuesReport(view);
    expect(body.workers.stuck).toMatchObject({ state: 'hung', activeJobs: 1 });
    expect(body.workers.stuck.reason).toMatch(/JOBWATCH_STUCK_JOB_MS=1500/);
    const { samples } = await scrape(`http://127.0.0.1:${view.metricsPort}/metrics`);
    const age = samples.find(
      (s) =>
        s.name === 'bullmq_worker_oldest_active_job_age_seconds' &&
        s.labels.bullmq_worker_name === 'stuck',
    );
    expect(age?.value).toBeGreaterThan(1.5);
    await queue.close();
  });

  it('several workers in one process and two processes on one queue stay correct', async () => {
    const view = await start('view-app.cjs', { QUEUE: 'multi-a' });
    const one = await start('worker-app.cjs', { WORKERS: 'multi-a,multi-b:mailer' });
    const two = await start('worker-app.cjs', { WORKERS: 'multi-a' });
    await statusBecomes(view, 'multi-a', 1);
    await statusBecomes(view, 'mailer', 1);
    two.proc.child.kill('SIGKILL');
    await waitFor(async () => {
      const { body } = await queuesReport(view);
      return body.workers['multi-a'].instances.some((i: any) => i.state === 'dead');
    });
    expect(await status(view, 'multi-a')).toBe(1); // one live instance is enough
    one.proc.child.kill('SIGKILL');
    await statusBecomes(view, 'multi-a', 0);
    await statusBecomes(view, 'mailer', 0);
  });

  it('a watched loop that stops calling beat() goes to 0', async () => {
    const view = await start('view-app.cjs', { QUEUE: 'loop-host' });
    await start('loop-app.cjs', { BEAT_FOR_MS: '3000' });
    await statusBecomes(view, 'cleanup_loop', 1);
    await statusBecomes(view, 'cleanup_loop', 0);
    const { body } = await queuesReport(view);
    expect(body.workers.cleanup_loop).toMatchObject({ kind: 'task', state: 'hung' });
  });
});

describe('cost', () => {
  it('adds no Redis command per job: per beat, one EVALSHA per worker and one for the lease', async () => {
    await start('worker-app.cjs', { WORKERS: 'cost' });
    const queue = new Queue('cost', { connection: redis.server.connection });
    const monitor = await redis.server.monitor();
    const t0 = performance.now();
    await queue.addBulk(Array.from({ length: 300 }, (_, i) => ({ name: 'n', data: { i } })));
    await waitFor(async () => (await queue.getJobCounts('completed')).completed === 300, {
      timeoutMs: 30_000,
    });
    const beats = (performance.now() - t0) / INTERVAL;
    const ours = (await monitor.stop()).filter((args) =>
      args.some((a) => a.includes(':jobwatch:')),
    );
    await queue.close();
    // EVALSHA, or EVAL once for a script's first use on this server.
    expect(ours.every((args) => /^eval(sha)?$/i.test(args[0]!))).toBe(true);
    // One worker, one process: a beat and a lease call per interval, no registry read (no scrape).
    // A script's first call on this server is an EVALSHA answered NOSCRIPT, then its
    // EVAL: one call of jobwatch's, two commands.
    const calls = ours.filter((args) => !/^eval$/i.test(args[0]!)).length;
    expect(calls).toBeLessThanOrEqual(2 * (Math.ceil(beats) + 1));
    console.log(`300 jobs in ${Math.round(beats * INTERVAL)} ms: ${ours.length} jobwatch commands`);
  });
});

describe('Redis outage', () => {
  it('/health/ready is 503 while Redis is down, nothing crashes, and beats resume after', async () => {
    const view = await start('view-app.cjs', { QUEUE: 'outage' });
    const worker = await start('worker-app.cjs', { WORKERS: 'outage' });
    await statusBecomes(view, 'outage', 1);
    await redis.server.stop(); // its data is gone too: the registry must be rebuilt by new beats
    try {
      await waitFor(async () => {
        const res = await fetch(`http://127.0.0.1:${view.healthPort}/health/ready`);
        return res.status === 503;
      });
      await new Promise((r) => setTimeout(r, 4 * INTERVAL));
      expect(view.proc.running && worker.proc.running).toBe(true);
    } finally {
      await redis.server.resume();
    }
    await waitFor(
      async () => (await fetch(`http://127.0.0.1:${view.healthPort}/health/ready`)).status === 200,
      { timeoutMs: 20_000, what: 'ready again' },
    );
    // The view may still show its last known 1; what proves recovery is the
    // worker's own beat rebuilding the (wiped) registry, once its client reconnects.
    const client = redis.server.client();
    try {
      await waitFor(async () => (await client.zrange(beatsKey('bull'), '0', '-1')).length > 0, {
        timeoutMs: 30_000,
        what: "the worker's beats to rebuild the registry",
      });
    } finally {
      client.disconnect();
    }
    // The wipe took the lease too: whichever process holds it now reports the worker.
    await waitFor(
      async () =>
        Math.max((await status(view, 'outage')) ?? 0, (await status(worker, 'outage')) ?? 0) === 1,
      { timeoutMs: 20_000, what: 'worker_status{outage} == 1 again' },
    );
    expect(view.proc.running && worker.proc.running).toBe(true);
  }, 60_000);
});

describe('clock skew (Redis TIME decides, not the hosts)', () => {
  it('a live worker 5 min behind is not dead; a killed worker 5 min ahead is not alive', async () => {
    const skew = `${FIXTURES}/clock-skew.cjs`;
    const view = await start('view-app.cjs', { QUEUE: 'skew-a', CLOCK_OFFSET_MS: '120000' }, [
      skew,
    ]);
    const behind = await start(
      'worker-app.cjs',
      { WORKERS: 'skew-a', CLOCK_OFFSET_MS: '-300000' },
      [skew],
    );
    const ahead = await start('worker-app.cjs', { WORKERS: 'skew-b', CLOCK_OFFSET_MS: '300000' }, [
      skew,
    ]);
    await statusBecomes(view, 'skew-a', 1);
    await statusBecomes(view, 'skew-b', 1);
    await new Promise((r) => setTimeout(r, 4 * INTERVAL));
    expect(await status(view, 'skew-a')).toBe(1);
    ahead.proc.child.kill('SIGKILL');
    const detectedMs = await statusBecomes(view, 'skew-b', 0);
    expect(detectedMs).toBeLessThanOrEqual(MISSED_BEATS_FOR_DEAD * INTERVAL + 2000);
    expect(await status(view, 'skew-a')).toBe(1);
    expect(behind.proc.running).toBe(true);
  });
});
