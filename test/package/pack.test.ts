// What users install: `npm pack` gives a tarball that installs into a fresh
// app and works there, with both preload forms and the programmatic API.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { killAll, repoRoot, spawnNode } from '../helpers/node-process.js';
import { freePort, waitFor } from '../helpers/ports.js';
import { RedisServer } from '../helpers/redis.js';

const app = mkdtempSync(join(tmpdir(), 'jobwatch-app-'));
let redis: RedisServer;

const npm = (args: string[], cwd: string) =>
  execFileSync('npm', args, { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });

const version = (pkg: string) =>
  (
    JSON.parse(readFileSync(join(repoRoot, 'node_modules', pkg, 'package.json'), 'utf8')) as {
      version: string;
    }
  ).version;

const WORKER = `
const { Queue, Worker } = require('bullmq');
const connection = { url: process.env.REDIS_URL };
new Worker('packed', async (job) => { console.log('processed ' + job.id); }, { connection });
new Queue('packed', { connection }).add('hello', {});
`;

beforeAll(async () => {
  redis = await RedisServer.start();
  // --ignore-scripts: the test run already built dist/, and other test files are using it.
  const tarball = npm(['pack', '--ignore-scripts', '--pack-destination', app], repoRoot)
    .trim()
    .split('\n')
    .pop()!;
  writeFileSync(
    join(app, 'package.json'),
    JSON.stringify({
      name: 'fresh-app',
      private: true,
      dependencies: {
        jobwatch: `file:./${tarball}`,
        bullmq: version('bullmq'),
        ioredis: version('ioredis'),
        '@opentelemetry/api': version('@opentelemetry/api'),
      },
    }),
  );
  npm(['install', '--no-audit', '--no-fund', '--prefer-offline', '--loglevel=error'], app);
  writeFileSync(join(app, 'worker.cjs'), WORKER);
  writeFileSync(join(app, 'started.cjs'), `require('jobwatch').start();\n${WORKER}`);
  writeFileSync(
    join(app, 'worker.mjs'),
    `${WORKER.replace("const { Queue, Worker } = require('bullmq');", "import { Queue, Worker } from 'bullmq';")}`,
  );
  writeFileSync(
    join(app, 'api.mjs'),
    "import { BullMQInstrumentation } from 'jobwatch';\nconsole.log(typeof BullMQInstrumentation);\n",
  );
}, 240_000);

afterAll(async () => {
  await killAll();
  await redis.close();
  rmSync(app, { recursive: true, force: true });
});

describe('the packed tarball in a fresh app', () => {
  it('ships the build and the ops bundle, and no tests or sources', () => {
    const files = npm(['pack', '--dry-run', '--json', '--ignore-scripts'], repoRoot);
    const paths = (JSON.parse(files) as { files: { path: string }[] }[])[0]!.files.map(
      (f) => f.path,
    );
    expect(paths).toEqual(
      expect.arrayContaining(['dist/register.js', 'dist/register.mjs', 'dist/index.d.ts']),
    );
    expect(paths.some((p) => p.startsWith('alerts/'))).toBe(true);
    expect(paths.some((p) => p.startsWith('test/') || p.startsWith('src/'))).toBe(false);
  });

  it.each([
    ['--require jobwatch/register', 'worker.cjs'],
    ['--import jobwatch/register', 'worker.mjs'],
    ['start() from code', 'started.cjs'],
  ])('%s instruments the app (%s)', async (how, script) => {
    const port = await freePort();
    const flags = how.startsWith('--') ? how.split(' ') : [];
    const proc = spawnNode(
      [...flags, join(app, script)],
      {
        REDIS_URL: redis.url,
        OTEL_TRACES_EXPORTER: 'none',
        OTEL_EXPORTER_PROMETHEUS_PORT: String(port),
      },
      app,
    );
    await waitFor(() => proc.stdout.includes('processed'), { what: 'the job' });
    const metrics = await waitFor(
      async () => {
        const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
        return text.includes('worker_status{') ? text : undefined;
      },
      { what: 'worker_status on /metrics' },
    );
    expect(metrics).toMatch(
      /^worker_status\{bullmq_worker_name="packed",messaging_destination_name="packed"[^}]*\} 1$/m,
    );
    expect(metrics).toMatch(
      /^messaging_client_consumed_messages_total\{[^}]*messaging_destination_name="packed"/m,
    );
    await proc.stop();
  });

  it('exports the programmatic API to ESM apps', () => {
    const out = execFileSync(process.execPath, [join(app, 'api.mjs')], { encoding: 'utf8' });
    expect(out.trim()).toBe('function');
  });
});
