// A wedged worker reads as hung, at the default settings, with a reason that
// names what stalled; workers that fetch nothing for good reasons never do.
//
// The wedge is real: the worker reaches Redis through a TCP proxy that stops
// forwarding while every socket stays open (a half-open connection after a
// failover), so BullMQ's commands never get an answer and no error is raised.
// Jobs pile up as waiting while the process stays alive. In the same window a
// second process runs workers that are idle, full of long jobs, paused, on a
// paused queue, rate limited, or blocked in a long drainDelay. Each process
// beats every 5 s (the default); `jobwatch status --json` reads the registry
// as an operator would. Needs `npm run build`.
import { Queue } from 'bullmq';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { type NodeProcess, spawnNode } from '../helpers/node-process.js';
import { waitFor } from '../helpers/ports.js';
import { RedisServer } from '../helpers/redis.js';
import { FreezingProxy } from '../helpers/tcp-proxy.js';

/** What the issue asks for at the default settings. */
const DETECTION_BOUND_MS = 30_000;
const CASES = ['idle', 'full', 'paused', 'qpaused', 'limited', 'slowdrain'];

let redis: RedisServer;
let proxy: FreezingProxy;
const procs: NodeProcess[] = [];

beforeAll(async () => {
  redis = await RedisServer.start();
  proxy = await FreezingProxy.start(redis.port);
});

afterAll(async () => {
  await Promise.all(procs.map((p) => p.stop('SIGKILL')));
  await proxy?.close();
  await redis?.close();
});

function app(script: string, env: Record<string, string>): NodeProcess {
  const proc = spawnNode(['--require', 'jobwatch/register', script], {
    OTEL_TRACES_EXPORTER: 'none',
    OTEL_METRICS_EXPORTER: 'none',
    ...env,
  });
  procs.push(proc);
  return proc;
}

interface Seen {
  state: string;
  reason: string;
}

async function workers(): Promise<Record<string, Seen>> {
  const proc = spawnNode(['dist/cli/main.js', 'status', '--json', '--redis', redis.url], {
    JOBWATCH_REDIS_URL: '',
  });
  await proc.exited;
  const report = JSON.parse(proc.stdout) as { workers: Record<string, Seen> };
  return Object.fromEntries(
    Object.entries(report.workers).map(([k, w]) => [k, { state: w.state, reason: w.reason }]),
  );
}

it('reports the wedged worker hung within 30 s, and none of the others ever', async () => {
  const wedged = app('./test/health/fixtures/worker-app.cjs', {
    REDIS_URL: proxy.url,
    WORKERS: 'wedge-q:wedge',
  });
  const cases = app('./test/health/fixtures/loop-cases.cjs', { REDIS_URL: redis.url });
  await waitFor(() => wedged.stdout.includes('ready') && cases.stdout.includes('ready'), {
    timeoutMs: 20_000,
    what: `both apps ready (${wedged.stderr}${cases.stderr})`,
  });
  const producer = new Queue('wedge-q', { connection: redis.connection });
  try {
    await producer.add('before', {});
    await waitFor(() => wedged.stdout.includes('processed'), { what: 'a job through the proxy' });
    await waitFor(
      async () => {
        const w = await workers();
        return [...CASES, 'wedge'].every((name) => w[name]) && w.paused?.state === 'paused'
          ? w
          : undefined;
      },
      { timeoutMs: 15_000, what: 'every worker in the registry, the paused one paused' },
    );

    proxy.freeze();
    const frozenAt = Date.now();
    await producer.addBulk([1, 2, 3].map((i) => ({ name: 'after', data: { i } })));
    let hungAfterMs: number | undefined;
    let reason = '';
    // Watch past the bound, so the healthy cases are seen for as long as the wedge.
    while (Date.now() - frozenAt < DETECTION_BOUND_MS + 5000) {
      const w = await workers();
      for (const name of CASES) {
        const expected = name === 'paused' ? 'paused' : 'running';
        expect(
          w[name]?.state,
          `${name} after ${Date.now() - frozenAt} ms: ${w[name]?.reason}`,
        ).toBe(expected);
      }
      if (hungAfterMs === undefined && w.wedge?.state === 'hung') {
        hungAfterMs = Date.now() - frozenAt;
        reason = w.wedge.reason;
      }
      await new Promise((r) => setTimeout(r, 1000));
    }
    console.log(`wedge: hung ${hungAfterMs} ms after the freeze (${reason})`);
    expect(hungAfterMs, 'the wedged worker was never reported hung').toBeDefined();
    expect(hungAfterMs!).toBeLessThanOrEqual(DETECTION_BOUND_MS);
    expect(reason).toMatch(
      /^wedged: (BullMQ has been .+ for|no job fetched .+ for|fetching jobs keeps failing)/,
    );
    // The process is alive and its jobs wait: the wedge, not a crash.
    expect(wedged.running).toBe(true);
    expect((await producer.getJobCounts('waiting')).waiting).toBe(3);
    // And the check an uptime monitor runs says so, in its exit code.
    const check = spawnNode(
      ['dist/cli/main.js', 'check', '--redis', redis.url, '--worker', 'wedge'],
      { JOBWATCH_REDIS_URL: '' },
    );
    expect((await check.exited).code).toBe(1);
  } finally {
    await producer.close();
  }
}, 90_000);
