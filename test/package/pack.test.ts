// What users install: a plain `npm pack` of a clean copy of the repository
// (no dist/, as in a fresh clone or a git install) builds and gives a
// tarball that installs into a fresh app and works there, with both preload
// forms and the programmatic API, and shares one copy of the OpenTelemetry
// SDK with an app that brings its own.
import { execFileSync } from 'node:child_process';
import {
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { killAll, repoRoot, spawnNode } from '../helpers/node-process.js';
import { freePort, waitFor } from '../helpers/ports.js';
import { RedisServer } from '../helpers/redis.js';

const app = mkdtempSync(join(tmpdir(), 'jobwatch-app-'));
const withSdk = mkdtempSync(join(tmpdir(), 'jobwatch-app-sdk-'));
const clean = mkdtempSync(join(tmpdir(), 'jobwatch-clean-'));
let redis: RedisServer;
let tarball: string;
let packedFiles: string[];

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

/** The committed files, without dist/ (a clean clone), with the installed node_modules for the build. */
function cleanCopy(): void {
  const files = execFileSync('git', ['ls-files', '-z'], { cwd: repoRoot, encoding: 'utf8' })
    .split('\0')
    .filter((f) => f !== '' && existsSync(join(repoRoot, f)));
  for (const file of files) {
    mkdirSync(dirname(join(clean, file)), { recursive: true });
    cpSync(join(repoRoot, file), join(clean, file));
  }
  symlinkSync(join(repoRoot, 'node_modules'), join(clean, 'node_modules'));
}

/** A fresh app depending on the tarball and `extra`, installed. */
function freshApp(dir: string, extra: Record<string, string> = {}): void {
  cpSync(join(clean, tarball), join(dir, tarball));
  writeFileSync(
    join(dir, 'package.json'),
    JSON.stringify({
      name: 'fresh-app',
      private: true,
      dependencies: {
        jobwatch: `file:./${tarball}`,
        bullmq: version('bullmq'),
        ioredis: version('ioredis'),
        '@opentelemetry/api': version('@opentelemetry/api'),
        ...extra,
      },
    }),
  );
  npm(['install', '--no-audit', '--no-fund', '--prefer-offline', '--loglevel=error'], dir);
}

/** The versions of `pkg` installed anywhere in `dir`'s node_modules (one entry per copy). */
function copiesOf(dir: string, pkg: string): string[] {
  const found: string[] = [];
  const walk = (modules: string) => {
    if (!existsSync(modules)) return;
    const manifest = join(modules, pkg, 'package.json');
    if (existsSync(manifest)) found.push(JSON.parse(readFileSync(manifest, 'utf8')).version);
    for (const entry of readdirSync(modules)) {
      const scoped = entry.startsWith('@')
        ? readdirSync(join(modules, entry)).map((e) => join(entry, e))
        : [entry];
      for (const name of scoped) walk(join(modules, name, 'node_modules'));
    }
  };
  walk(join(dir, 'node_modules'));
  return found;
}

beforeAll(async () => {
  redis = await RedisServer.start();
  cleanCopy();
  // A plain pack, as `npm publish` or a git install runs it: prepack builds dist/.
  const out = npm(['pack', '--json'], clean);
  const packed = (
    JSON.parse(out.slice(out.indexOf('['))) as { filename: string; files: { path: string }[] }[]
  )[0]!;
  tarball = packed.filename;
  packedFiles = packed.files.map((f) => f.path);
  freshApp(app);
  freshApp(withSdk, { '@opentelemetry/sdk-node': version('@opentelemetry/sdk-node') });
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
  for (const dir of [app, withSdk, clean]) rmSync(dir, { recursive: true, force: true });
});

describe('the packed tarball in a fresh app', () => {
  it('ships the build, LICENSE and the ops bundle, and no tests or sources', () => {
    const paths = packedFiles;
    expect(paths).toEqual(
      expect.arrayContaining([
        'LICENSE',
        'dist/preload/register.js',
        'dist/preload/register.mjs',
        'dist/index.d.ts',
        'dist/cli/main.js',
      ]),
    );
    expect(paths.some((p) => p.startsWith('alerts/'))).toBe(true);
    expect(paths.some((p) => p.startsWith('test/') || p.startsWith('src/'))).toBe(false);
  });

  it('ships source maps that carry their sources', () => {
    const maps = packedFiles.filter((p) => p.endsWith('.js.map'));
    expect(maps.length).toBeGreaterThan(10);
    for (const map of maps) {
      const { sources, sourcesContent } = JSON.parse(
        readFileSync(join(app, 'node_modules/jobwatch', map), 'utf8'),
      ) as { sources: string[]; sourcesContent?: string[] };
      expect(sourcesContent?.length, map).toBe(sources.length);
    }
  });

  it.each([
    ['an app without an SDK', () => app],
    ['an app with its own @opentelemetry/sdk-node', () => withSdk],
  ])('installs one copy of the OpenTelemetry SDK family in %s', (_label, dir) => {
    for (const pkg of [
      '@opentelemetry/core',
      '@opentelemetry/sdk-metrics',
      '@opentelemetry/sdk-node',
    ]) {
      expect(copiesOf(dir(), pkg), pkg).toHaveLength(1);
    }
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
