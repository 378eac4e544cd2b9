// The demo worker's compose healthcheck, run as Docker runs it: the exact
// command line from docker-compose.yml, in the mounted checkout, with the
// worker container's environment (only hosts and ports moved to this machine),
// against the demo worker started as compose starts it. Needs `npm run build`.
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { dirname } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type NodeProcess, spawnNode } from '../helpers/node-process.js';
import { freePort, waitFor } from '../helpers/ports.js';
import { RedisServer } from '../helpers/redis.js';
import { repoRoot } from '../helpers/rules-override.js';
import { compose } from './stack-files.js';

const service = compose.services['demo-worker'];
const [kind, ...argv] = service.healthcheck.test as string[];
/** Docker's healthcheck timeout ("10s"): a check that takes longer counts as failed. */
const timeoutMs = Number(/^(\d+)s$/.exec(service.healthcheck.timeout)![1]) * 1000;

let redis: RedisServer;
let env: Record<string, string>;
let worker: NodeProcess;

beforeAll(async () => {
  redis = await RedisServer.start();
  env = {
    ...service.environment,
    REDIS_URL: redis.url,
    JOBWATCH_HEALTH_PORT: String(await freePort()),
    // No collector here: the pushes fail, which must not change the verdict.
    OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${await freePort()}`,
    // `node` on PATH is the one running these tests, as in the container.
    PATH: `${dirname(process.execPath)}:${process.env.PATH}`,
  };
  worker = spawnNode(service.command.slice(1), env, repoRoot);
  await waitFor(() => worker.stdout.includes('processing queue') || !worker.running, {
    what: 'the demo worker',
  });
}, 60_000);

afterAll(async () => {
  await worker?.stop();
  await redis?.close();
});

/** Runs the healthcheck's command line once; exit code, output and duration. */
async function healthcheck() {
  const started = performance.now();
  const child = spawn(argv[0]!, argv.slice(1), {
    cwd: repoRoot,
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  child.stdout.on('data', (d) => {
    out += d;
  });
  child.stderr.on('data', (d) => {
    err += d;
  });
  const [code] = await once(child, 'exit');
  return { code: code as number, out, err, ms: performance.now() - started };
}

describe('the demo worker’s compose healthcheck', () => {
  it('is an exec of node on the CLI entry point, not a shell or npx', () => {
    expect(kind).toBe('CMD');
    expect(argv).not.toContain('npx');
    expect(argv).toEqual(['node', 'dist/cli/main.js', 'check']);
    expect(service.environment.NODE_OPTIONS).toContain('jobwatch/register');
  });

  it('exits 0 for the live worker, quickly and without output on stderr', async () => {
    expect(worker.running, worker.stderr).toBe(true);
    const r = await waitFor(
      async () => {
        const result = await healthcheck();
        return result.code === 0 ? result : undefined;
      },
      { timeoutMs: 30_000, what: 'a healthy check' },
    );
    // Nothing else speaks: the app's NODE_OPTIONS preload, which the check inherits, never
    // starts a jobwatch of its own in the CLI (it would take the worker's ports, and could
    // answer its own health endpoint).
    expect(r.err).toBe('');
    expect(JSON.parse(r.out)).toMatchObject({
      status: 'healthy',
      workers: { orders: { alive: true, pid: worker.pid } },
    });
    expect(r.ms).toBeLessThan(timeoutMs);
  }, 40_000);

  it('exits 1 once the worker is SIGKILLed, well within Docker’s timeout', async () => {
    await worker.stop('SIGKILL');
    const r = await healthcheck();
    expect(r.code, r.out + r.err).toBe(1);
    expect(JSON.parse(r.out).status).toBe('unhealthy');
    expect(r.ms).toBeLessThan(timeoutMs);
  }, 30_000);
});
