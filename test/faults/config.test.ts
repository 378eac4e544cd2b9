// Faults 11 and 12, and the health endpoints' exposure, on real processes:
// jobwatch switched off leaves no trace of itself (BullMQ unpatched, no
// socket, nothing in Redis); typos in settings are named once and replaced by
// safe defaults; the health endpoints listen only where they are told to and
// refuse what they should.
import { connect } from 'node:net';
import { beforeAll, describe, expect, it } from 'vitest';
import { freePort, waitFor } from '../helpers/ports.js';
import { RedisServer } from '../helpers/redis.js';
import {
  type App,
  closeQueues,
  enqueue,
  expectEachJobOnce,
  INTERVAL_MS,
  jobwatchLines,
  lines,
  listeningSockets,
  queueOf,
  registryEntries,
  repeat,
  startApp,
  tracesTo,
  useFaultSetup,
} from './harness.js';

const setup = useFaultSetup();

const portOf = (app: App) => Number(new URL(app.metricsUrl).port);

/** Runs 20 jobs through the app on a Redis of its own; reports what the app left behind. */
async function footprint(env: Record<string, string>, preload = true) {
  const redis = await RedisServer.start();
  try {
    const healthPort = await freePort();
    const app = await startApp(
      redis.url,
      { QUEUE: 'quiet', JOBWATCH_HEALTH_PORT: String(healthPort), ...env },
      { preload },
    );
    const queue = queueOf(redis, 'quiet');
    const ids = await enqueue(queue, repeat(20, { name: 'work' }));
    await expectEachJobOnce(queue, ids, [app.proc]);
    await new Promise((r) => setTimeout(r, 4 * INTERVAL_MS)); // beats would have been written by now
    const client = redis.client();
    const keys = await client.keys('*jobwatch*');
    const memory = await client.info('memory');
    client.disconnect();
    return {
      app,
      patched: lines(app.proc, 'patched'),
      listening: listeningSockets(app.proc.pid).sort(),
      keys,
      scripts: Number(/number_of_cached_scripts:(\d+)/.exec(memory)![1]),
      stderr: jobwatchLines(app.proc),
    };
  } finally {
    await closeQueues();
    await redis.close();
  }
}

describe('fault 11: jobwatch disabled', () => {
  type Footprint = Awaited<ReturnType<typeof footprint>>;
  let control: Footprint;
  let enabled: Footprint;
  beforeAll(async () => {
    control = await footprint({}, false);
    enabled = await footprint({});
  });

  it('is seen by these measures when it is on (so they can fail)', () => {
    expect(enabled.patched).toEqual(['true']);
    expect(enabled.listening.length).toBeGreaterThan(0);
    expect(enabled.keys.length).toBeGreaterThan(0);
    expect(enabled.scripts).toBeGreaterThan(control.scripts);
  });

  it.each([
    ['OTEL_SDK_DISABLED', 'true'],
    ['JOBWATCH_ENABLED', 'false'],
  ])(
    '%s=%s: BullMQ unpatched, no socket opened, nothing of jobwatch in Redis',
    async (name, value) => {
      const disabled = await footprint({ [name]: value });
      expect(disabled.patched).toEqual(['false']);
      expect(disabled.listening).toEqual([]);
      expect(disabled.keys).toEqual([]);
      expect(disabled.scripts).toBe(control.scripts);
      expect(disabled.stderr).toEqual([]);
      console.log(
        `fault 11 (${name}=${value}): Worker.prototype.processJob unwrapped, 0 listening sockets (enabled: ${enabled.listening.length}), ` +
          `0 jobwatch keys (enabled: ${enabled.keys.length}), ${disabled.scripts} Lua scripts as without the preload (enabled: ${enabled.scripts})`,
      );
    },
  );
});

describe('fault 12: invalid settings', () => {
  const BAD: Record<string, string> = {
    JOBWATCH_ENABLED: 'maybe',
    OTEL_SDK_DISABLED: 'nope',
    JOBWATCH_HEARTBEAT_INTERVAL_MS: '5s',
    JOBWATCH_STUCK_JOB_MS: '-1',
    JOBWATCH_REGISTRY_RETENTION_MS: '1',
    JOBWATCH_REGISTRY_VIEW: 'yes please',
    JOBWATCH_QUEUE_DEPTH: 'sometimes',
    JOBWATCH_COLLECT_CACHE_MS: 'lots',
    JOBWATCH_COLLECT_TIMEOUT_MS: '0',
    JOBWATCH_HEALTH_PORT: '99999',
    JOBWATCH_PROCESS_PARENT: 'sibling',
    JOBWATCH_TRACE_REDIS: '2',
    JOBWATCH_MAX_CHAIN_DEPTH: 'deep',
    JOBWATCH_CAPTURE_JOB_DATA: 'ja',
    JOBWATCH_CAPTURE_ERROR_MESSAGE: 'ja',
    OTEL_METRICS_EXPORTER: 'statsd',
    OTEL_TRACES_SAMPLER: 'sometimes',
    OTEL_EXPORTER_OTLP_TIMEOUT: '-5',
    OTEL_BSP_MAX_QUEUE_SIZE: '-1',
    // Names that are no setting: a typo, and a unit left off.
    JOBWATCH_HEALTH_PROT: '9000',
    JOBWATCH_HEARTBEAT_INTERVAL: '1000',
  };
  const NEAREST: Record<string, string> = {
    JOBWATCH_HEALTH_PROT: 'JOBWATCH_HEALTH_PORT',
    JOBWATCH_HEARTBEAT_INTERVAL: 'JOBWATCH_HEARTBEAT_INTERVAL_MS',
  };

  it('names each bad setting in one line, uses safe defaults, and the app works', async () => {
    const app = await startApp(setup.redis.url, {
      QUEUE: 'typos',
      ...tracesTo(setup.receiver.url),
      ...BAD,
    });
    const queue = queueOf(setup.redis, 'typos');
    const ids = await enqueue(queue, repeat(20, { name: 'work', data: { secret: 'card-4242' } }));
    await expectEachJobOnce(queue, ids, [app.proc]);

    const errors = jobwatchLines(app.proc);
    for (const name of Object.keys(BAD)) {
      const naming = errors.filter((l) => new RegExp(`(?<!mean )\\b${name}\\b`).test(l));
      expect(naming, `${name}:\n${errors.join('\n')}`).toHaveLength(1);
    }
    expect(errors).toHaveLength(Object.keys(BAD).length);
    for (const [typo, meant] of Object.entries(NEAREST)) {
      const line = errors.find((l) => new RegExp(`\\b${typo}\\b`).test(l));
      expect(line).toMatch(
        new RegExp(`^\\[jobwatch\\] .*unknown setting ${typo} \\(did you mean ${meant}\\?\\)`),
      );
    }
    // The defaults are in force: jobwatch on, BullMQ traced, /metrics (prometheus)
    // on its port and nothing else listening, 5 s heartbeats, no stuck-job rule,
    // and no job data on spans.
    expect(lines(app.proc, 'patched')).toEqual(['true']);
    expect(listeningSockets(app.proc.pid)).toEqual([`127.0.0.1:${portOf(app)}`]);
    const entries = (await registryEntries(setup.redis)).filter((e) => e.name === 'typos');
    expect(entries).toMatchObject([{ intervalMs: '5000', stuckJobMs: '0' }]);
    const spans = await waitFor(
      () => {
        const found = setup.receiver.spans.filter((s) => s.name === 'process typos');
        return found.length === ids.length ? found : undefined;
      },
      { what: 'the spans' },
    );
    expect(JSON.stringify(spans)).not.toContain('card-4242');
    expect(app.proc.running).toBe(true);
    console.log(
      `fault 12: ${Object.keys(BAD).length} bad settings, ${errors.length} error lines (one per setting); ` +
        `${ids.length}/${ids.length} jobs completed once with the defaults`,
    );
  });
});

describe('health endpoints of a preloaded process', () => {
  const TOKEN = 'a-long-random-token';

  async function withHealth(env: Record<string, string>) {
    const port = await freePort();
    const app = await startApp(setup.redis.url, {
      QUEUE: 'guarded',
      JOBWATCH_HEALTH_PORT: String(port),
      JOBWATCH_HEALTH_TOKEN: TOKEN,
      ...env,
    });
    const base = `http://127.0.0.1:${port}`;
    await waitFor(async () => (await fetch(`${base}/health/live`)).ok, { what: 'health' });
    return { app, port, base };
  }

  it('refuse every /health/queues request when JOBWATCH_HEALTH_TOKEN is set but blank, and say so once', async () => {
    const { app, base } = await withHealth({ JOBWATCH_HEALTH_TOKEN: '' });
    for (const headers of [{}, { authorization: 'Bearer ' }, { authorization: 'Bearer x' }]) {
      expect((await fetch(`${base}/health/queues`, { headers })).status).toBe(401);
    }
    expect((await fetch(`${base}/health/live`)).status).toBe(200);
    const said = jobwatchLines(app.proc).filter((l) => l.includes('JOBWATCH_HEALTH_TOKEN'));
    expect(said).toHaveLength(1);
    expect(said[0]).toMatch(/set but blank/);
  });

  it('keep /health/live answering under a flood of idle connections', async () => {
    const { base, port } = await withHealth({});
    const idle = await Promise.all(
      Array.from(
        { length: 200 },
        () =>
          new Promise<import('node:net').Socket>((resolve) => {
            const socket = connect(port, '127.0.0.1', () => resolve(socket));
            socket.on('error', () => undefined);
          }),
      ),
    );
    // A slow client too: headers started, never finished.
    idle[0]!.write('GET /health/live HTTP/1.1\r\nHost: x\r\n');
    try {
      for (let i = 0; i < 5; i++) {
        const started = performance.now();
        const res = await fetch(`${base}/health/live`, { signal: AbortSignal.timeout(2000) });
        expect(res.status).toBe(200);
        if (i === 0)
          console.log(
            `health endpoints: /health/live with 200 idle connections open answered in ${Math.round(performance.now() - started)} ms`,
          );
      }
    } finally {
      for (const socket of idle) socket.destroy();
    }
  });

  it('listen on loopback by default, on all interfaces only when JOBWATCH_HEALTH_HOST says so', async () => {
    const local = await withHealth({});
    const open = await withHealth({ JOBWATCH_HEALTH_HOST: '0.0.0.0' });
    expect(listeningSockets(local.app.proc.pid).sort()).toEqual(
      [`127.0.0.1:${portOf(local.app)}`, `127.0.0.1:${local.port}`].sort(),
    );
    expect(listeningSockets(open.app.proc.pid)).toContain(`0.0.0.0:${open.port}`);
  });

  it('want the token, refuse oversized headers, and drop a client that never finishes them', async () => {
    const { base, port } = await withHealth({});
    const queues = (authorization?: string) =>
      fetch(`${base}/health/queues`, { headers: authorization ? { authorization } : {} });
    expect((await queues()).status).toBe(401);
    expect((await queues(`Bearer ${TOKEN.slice(0, -1)}x`)).status).toBe(401);
    const authorized = await queues(`Bearer ${TOKEN}`);
    expect(authorized.status).not.toBe(401); // the report (200 or 503: killed apps of other tests are dead)
    expect(await authorized.json()).toHaveProperty('workers.guarded');
    const big = await fetch(`${base}/health/live`, { headers: { 'x-pad': 'a'.repeat(20_000) } });
    expect(big.status).toBe(431);
    const socket = connect(port, '127.0.0.1');
    socket.on('error', () => undefined);
    socket.write('GET /health/live HTTP/1.1\r\nHost: x\r\n'); // and never the end of the headers
    const since = performance.now();
    await new Promise((resolve) => socket.on('close', resolve).resume());
    const droppedMs = performance.now() - since;
    console.log(
      `health endpoints: a client that never finished its headers was dropped after ${Math.round(droppedMs)} ms`,
    );
    expect(droppedMs).toBeLessThan(10_000);
    expect((await fetch(`${base}/health/live`)).status).toBe(200); // and the server still answers
  }, 30_000);
});
