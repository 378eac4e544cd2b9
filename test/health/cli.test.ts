// The `jobwatch` CLI as a user runs it (node dist/cli/main.js), against real
// worker processes started with the preload. Needs `npm run build`.
import { readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { describe, expect, it } from 'vitest';
import { beatsKey, instanceKey } from '../../src/backends/redis/keys.js';
import { type NodeProcess, spawnNode } from '../helpers/node-process.js';
import { freePort, waitFor } from '../helpers/ports.js';
import { scrape } from '../metrics/scrape.js';
import { redisPerFile } from './redis-per-file.js';

const INTERVAL = 300;
const redis = redisPerFile();

async function workerProcess(queues: string, env: Record<string, string> = {}) {
  const proc = spawnNode(
    ['--require', 'jobwatch/register', './test/health/fixtures/worker-app.cjs'],
    {
      REDIS_URL: redis.server.url,
      WORKERS: queues,
      OTEL_TRACES_EXPORTER: 'none',
      OTEL_METRICS_EXPORTER: 'none',
      JOBWATCH_HEARTBEAT_INTERVAL_MS: String(INTERVAL),
      ...env,
    },
  );
  await waitFor(() => proc.stdout.includes('ready') || !proc.running, { what: 'worker ready' });
  return proc;
}

async function cli(args: string[], env: Record<string, string> = {}) {
  const proc = spawnNode(['dist/cli/main.js', ...args], { JOBWATCH_REDIS_URL: '', ...env });
  const started = performance.now();
  const { code } = await proc.exited;
  return { code, stdout: proc.stdout, stderr: proc.stderr, ms: performance.now() - started };
}

function checkJson(out: string) {
  return JSON.parse(out) as any;
}

describe('jobwatch check', () => {
  it('exits 0 for a live worker, 1 once it is dead', async () => {
    const proc = await workerProcess('cli-q:cli-worker');
    const healthy = await waitFor(async () => {
      const r = await cli(['check', '--redis', redis.server.url, '--worker', 'cli-worker']);
      return r.code === 0 ? r : undefined;
    });
    expect(checkJson(healthy.stdout)).toMatchObject({
      status: 'healthy',
      workers: { 'cli-worker': { alive: true, queue: 'cli-q', pid: proc.pid } },
      queues: { 'cli-q': { waiting: 0 } },
    });
    proc.child.kill('SIGKILL');
    await new Promise((r) => setTimeout(r, 3 * INTERVAL + 100));
    const unhealthy = await cli(['check', '--redis', redis.server.url, '--worker', 'cli-worker']);
    expect(unhealthy.code).toBe(1);
    expect(checkJson(unhealthy.stdout).workers['cli-worker']).toMatchObject({ state: 'dead' });
  });

  it('skips a malformed registry entry: the dead worker is still reported, and the skip named', async () => {
    const proc = await workerProcess('bad-q:survivor');
    await waitFor(async () => {
      const r = await cli(['check', '--redis', redis.server.url, '--worker', 'survivor']);
      return r.code === 0;
    });
    const admin = redis.server.client();
    try {
      await admin.zadd(beatsKey('bull'), Date.now(), 'garbage');
      await admin.set(instanceKey('bull', 'garbage'), 'not a hash');
      await admin.zadd(beatsKey('bull'), '+inf', 'forever');
      await admin.hset(instanceKey('bull', 'forever'), {
        id: 'forever',
        name: 'x',
        intervalMs: '1',
      });
    } finally {
      admin.disconnect();
    }
    proc.child.kill('SIGKILL');
    await new Promise((r) => setTimeout(r, 3 * INTERVAL + 100));
    const r = await cli(['check', '--redis', redis.server.url]);
    expect(r.code).toBe(1);
    const report = checkJson(r.stdout);
    expect(report.workers.survivor).toMatchObject({ state: 'dead' });
    expect(report.stores).toEqual([expect.objectContaining({ ok: true, skipped: 2 })]);
    const table = await cli(['status', '--redis', redis.server.url]);
    expect(table.stdout).toMatch(
      /^read Redis redis:\/\/\S+: 1 instances, 2 malformed entries skipped$/m,
    );
  });

  it('exits 3 (unknown) for a worker the registry does not know, naming what it read', async () => {
    const r = await cli(['check', '--redis', redis.server.url, '--worker', 'nobody']);
    expect(r.code).toBe(3);
    const report = checkJson(r.stdout);
    expect(report.status).toBe('unknown');
    expect(report.reason).toContain(`redis://127.0.0.1:${redis.server.port}/0#bull`);
  });

  it('exits 3 (unknown) on a registry with nobody in it: the wrong db, prefix or server', async () => {
    await workerProcess('cli-scope:cli-scope');
    await waitFor(
      async () =>
        (await cli(['check', '--redis', redis.server.url, '--worker', 'cli-scope'])).code === 0,
    );
    for (const url of [`${redis.server.url}/5`, redis.server.url]) {
      const args = ['check', '--redis', url];
      if (url === redis.server.url) args.push('--prefix', 'other');
      const r = await cli(args);
      expect(r.code, url).toBe(3);
      expect(checkJson(r.stdout)).toMatchObject({ status: 'unknown', workers: {} });
      expect(checkJson(r.stdout).reason).toMatch(
        /^no worker in redis:\/\/127\.0\.0\.1:\d+\/(5#bull|0#other)/,
      );
    }
    // REDIS_URL (what the examples set) is read when JOBWATCH_REDIS_URL is not.
    const byEnv = await cli(['check', '--worker', 'cli-scope'], { REDIS_URL: redis.server.url });
    expect(byEnv.code).toBe(0);
    const status = await cli(['status', '--prefix', 'other'], { REDIS_URL: redis.server.url });
    expect(status.code).toBe(3);
    expect(status.stdout).toMatch(/^jobwatch status: UNKNOWN \(no worker in /);
    expect(status.stdout).toMatch(/^read Redis redis:\/\/127\.0\.0\.1:\d+\/0#other: 0 instances$/m);
  });

  it('exits 3 (unknown) within its timeout when Redis accepts connections but never answers', async () => {
    const sockets: import('node:net').Socket[] = [];
    const silent: Server = createServer((s) => sockets.push(s));
    const port = await freePort();
    await new Promise<void>((r) => silent.listen(port, '127.0.0.1', r));
    try {
      const r = await cli([
        'check',
        '--redis',
        `redis://ops:hunter2@127.0.0.1:${port}`,
        '--timeout',
        '1500',
      ]);
      expect(r.stdout + r.stderr).not.toContain('hunter2');
      expect(r.code).toBe(3);
      expect(checkJson(r.stdout).status).toBe('unknown');
      expect(checkJson(r.stdout).reason).toContain(`127.0.0.1:${port}`);
      expect(r.ms).toBeLessThan(10_000); // bounded (node start-up included)
    } finally {
      for (const s of sockets) s.destroy();
      silent.close();
    }
  });

  it('--url asks a process health endpoint, with its token', async () => {
    const healthPort = await freePort();
    await workerProcess('cli-url', {
      JOBWATCH_HEALTH_PORT: String(healthPort),
      JOBWATCH_HEALTH_TOKEN: 'tok',
    });
    const url = `http://127.0.0.1:${healthPort}/health/queues`;
    const ok = await waitFor(async () => {
      const r = await cli(['check', '--url', url, '--token', 'tok']);
      return r.code === 0 ? r : undefined;
    });
    expect(checkJson(ok.stdout).workers['cli-url'].alive).toBe(true);
    // JOBWATCH_HEALTH_PORT / _TOKEN in the environment make it the default (a container's HEALTHCHECK).
    const byEnv = await cli(['check'], {
      JOBWATCH_HEALTH_PORT: String(healthPort),
      JOBWATCH_HEALTH_TOKEN: 'tok',
    });
    expect(byEnv.code).toBe(0);
    // A refused token is no verdict.
    const refused = await cli(['check', '--url', url, '--token', 'wrong']);
    expect(refused.code).toBe(3);
    expect(checkJson(refused.stdout).status).toBe('unknown');
  });
});

describe('jobwatch status', () => {
  it('prints a table of workers and queues, and the same data with --json', async () => {
    const proc = await workerProcess('st-a,st-b:mailer');
    await waitFor(
      async () =>
        (await cli(['check', '--redis', redis.server.url, '--worker', 'mailer'])).code === 0,
    );
    const table = await cli(['status', '--redis', redis.server.url]);
    expect(table.code).toBe(0);
    expect(table.stdout).toMatch(/^WORKERS$/m);
    expect(table.stdout).toMatch(
      new RegExp(`^mailer\\s+st-b\\s+1\\s+1\\s+running\\s+.*\\s${proc.pid}\\b`, 'm'),
    );
    expect(table.stdout).toMatch(/^st-a\s+st-a\s+1\s+1\s+running/m);
    expect(table.stdout).toMatch(/^QUEUES$/m);
    expect(table.stdout).toMatch(/^st-b\s+0\s+0/m);
    const json = await cli(['status', '--redis', redis.server.url, '--json']);
    expect(checkJson(json.stdout).workers.mailer).toMatchObject({ alive: true, queue: 'st-b' });
  });

  it('prints usage for --help, its version for --version, and one line for a usage error', async () => {
    const help = await cli(['--help']);
    expect(help.code).toBe(0);
    expect(help.stdout).toMatch(/Usage: jobwatch <command>/);
    const { version } = JSON.parse(readFileSync('package.json', 'utf8')) as { version: string };
    for (const flag of ['--version', '-v']) {
      expect(await cli([flag])).toMatchObject({ code: 0, stdout: `${version}\n`, stderr: '' });
    }
    for (const args of [
      ['nope'],
      ['--bogus'],
      ['check', '--timeout'],
      ['status', '--timeout', 'x'],
    ]) {
      const usage = await cli(args);
      expect(usage.code, args.join(' ')).toBe(2);
      expect(usage.stdout).toBe('');
      expect(usage.stderr.trim().split('\n'), args.join(' ')).toHaveLength(1);
      expect(usage.stderr).toMatch(/^jobwatch: .*jobwatch --help/);
      expect(usage.stderr).not.toMatch(/TypeError|Usage:/);
    }
  });
});

describe('names from the registry on a terminal', () => {
  it('status escapes control characters and cuts long names: no cleared screen, no forged row', async () => {
    const evil = `evil\u001b[2J\u001b[31m\nmailer  email  1  1  running${'x'.repeat(200)}`;
    await workerProcess(`esc-q:${evil}`);
    const table = await waitFor(async () => {
      const r = await cli(['status', '--redis', redis.server.url, '--queue', 'esc-q']);
      return r.stdout.includes('evil') ? r : undefined;
    });
    expect(table.stdout).not.toContain('\u001b'); // no escape sequence reaches the terminal
    expect(table.stdout).toContain('evil\\u001b[2J\\u001b[31m\\u000amailer');
    const rows = table.stdout.split('\n');
    expect(rows.filter((r) => r.startsWith('mailer'))).toEqual([]); // the forged row is not a row
    const row = rows.find((r) => r.startsWith('evil'))!;
    expect(row).toContain('…');
    expect(row.length).toBeLessThan(evil.length);
    // --json keeps the name exactly, as JSON escapes it.
    const json = await cli(['status', '--redis', redis.server.url, '--queue', 'esc-q', '--json']);
    expect(Object.values(checkJson(json.stdout).workers).map((w: any) => w.queue)).toEqual([
      'esc-q',
    ]);
    expect(Object.keys(checkJson(json.stdout).workers)).toEqual([
      expect.stringContaining('evil\u001b[2J'),
    ]);
  });
});

describe('a partly dead fleet', () => {
  it('check exits 0, degraded (the worker still runs), and says which instances are dead; status shows each', async () => {
    const alive = await workerProcess('part-q:part');
    const doomed = await workerProcess('part-q:part');
    await waitFor(async () => {
      const r = await cli(['check', '--redis', redis.server.url, '--worker', 'part']);
      return checkJson(r.stdout).workers?.part?.instanceStates?.running === 2;
    });
    doomed.child.kill('SIGKILL');
    const partly = await waitFor(async () => {
      const r = await cli(['check', '--redis', redis.server.url, '--worker', 'part']);
      return checkJson(r.stdout).workers?.part?.instanceStates?.dead === 1 ? r : undefined;
    });
    expect(partly.code).toBe(0);
    const report = checkJson(partly.stdout);
    expect(report).toMatchObject({
      status: 'degraded',
      reason: '1 worker runs with dead or hung instances',
      workers: { part: { alive: true, status: 1, state: 'running' } },
    });
    expect(report.workers.part.instanceStates).toEqual({
      running: 1,
      paused: 0,
      hung: 0,
      dead: 1,
      stopped: 0,
    });
    expect(report.workers.part.instances.find((i: any) => i.state === 'dead').pid).toBe(doomed.pid);
    const table = await cli(['status', '--redis', redis.server.url, '--worker', 'part']);
    expect(table.code).toBe(0);
    expect(table.stdout).toMatch(
      /^jobwatch status: DEGRADED \(1 worker runs with dead or hung instances\)/,
    );
    // The dead instance's own status is 0 while the worker's stays 1.
    expect(table.stdout).toMatch(
      new RegExp(`^part\\s+part-q\\s+1\\s+0\\s+dead\\s+.*\\s${doomed.pid}\\b`, 'm'),
    );
    expect(table.stdout).toMatch(
      new RegExp(`^part\\s+part-q\\s+1\\s+1\\s+running\\s+.*\\s${alive.pid}\\b`, 'm'),
    );
  });
});

describe('jobwatch monitor', () => {
  it('exports worker_status from the registry on its own /metrics', async () => {
    const port = await freePort();
    const monitor: NodeProcess = spawnNode(
      [
        'dist/cli/main.js',
        'monitor',
        '--redis',
        redis.server.url,
        '--port',
        String(port),
        '--queue',
        'mon',
      ],
      { JOBWATCH_HEARTBEAT_INTERVAL_MS: String(INTERVAL) },
    );
    const worker = await workerProcess('mon');
    const statusOf = async () => {
      const { samples } = await scrape(`http://127.0.0.1:${port}/metrics`);
      return samples.find(
        (s) => s.name === 'worker_status' && s.labels.bullmq_worker_name === 'mon',
      )?.value;
    };
    await waitFor(async () => (await statusOf()) === 1, { what: 'monitor sees the worker' });
    worker.child.kill('SIGKILL');
    await waitFor(async () => (await statusOf()) === 0, { what: 'monitor reports 0' });
    const { samples } = await scrape(`http://127.0.0.1:${port}/metrics`);
    expect(
      samples.some(
        (s) => s.name === 'bullmq_queue_jobs' && s.labels.messaging_destination_name === 'mon',
      ),
    ).toBe(true);
    expect(monitor.running).toBe(true);
  });
});
