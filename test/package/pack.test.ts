// What users install: a plain `npm pack` of a clean copy of the repository
// (no dist/, as in a fresh clone or a git install) builds a tarball that
// installs into real apps and works there. The apps (test/package/apps) are
// installed with `npm ci` from lockfiles of their own, so what the registry
// publishes later never changes this test (`npm run drift` reports that):
//   no-sdk                  npm install jobwatch is all it needs
//   lowest                  the lowest versions allowed: api 1.10.0, sdk-node 0.300.0, BullMQ 5.0.0
//   sdk-node-0.301.0        its own SDK, pinned to an older patch than jobwatch's newest
//   auto-instrumentations   the newest auto-instrumentations-node (SDK 0.300)
// An app with its own SDK gets no second copy of any SDK package.
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
import { type Lockfile, packagesFor, reachableWithout } from './lockfiles.js';

const APPS = ['no-sdk', 'lowest', 'sdk-node-0.301.0', 'auto-instrumentations'] as const;
type App = (typeof APPS)[number];
const SDK_FAMILY = ['@opentelemetry/core', '@opentelemetry/sdk-metrics', '@opentelemetry/sdk-node'];

const work = mkdtempSync(join(tmpdir(), 'jobwatch-apps-'));
const clean = mkdtempSync(join(tmpdir(), 'jobwatch-clean-'));
const appDir = (app: App) => join(work, app);
let redis: RedisServer;
let packedFiles: string[];

const npm = (args: string[], cwd: string) =>
  execFileSync('npm', args, { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });

// By host and port: BullMQ before 5.15 takes no url.
const WORKER = `
const { Queue, Worker } = require('bullmq');
const { hostname: host, port } = new URL(process.env.REDIS_URL);
const connection = { host, port: Number(port) };
new Worker(process.env.QUEUE, async (job) => { console.log('processed ' + job.id); }, { connection });
new Queue(process.env.QUEUE, { connection }).add('hello', {});
`;
const ESM_WORKER = WORKER.replace(
  "const { Queue, Worker } = require('bullmq');",
  "import { Queue, Worker } from 'bullmq';",
);

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

function lockOf(app: App): Lockfile {
  return JSON.parse(readFileSync(join(appDir(app), 'package-lock.json'), 'utf8')) as Lockfile;
}

beforeAll(async () => {
  redis = await RedisServer.start();
  cleanCopy();
  // A plain pack, as `npm publish` or a git install runs it: prepack builds dist/.
  const out = npm(['pack', '--json'], clean);
  const packed = (
    JSON.parse(out.slice(out.indexOf('['))) as { filename: string; files: { path: string }[] }[]
  )[0]!;
  packedFiles = packed.files.map((f) => f.path);
  for (const app of APPS) {
    cpSync(join(repoRoot, 'test/package/apps', app), appDir(app), { recursive: true });
    cpSync(join(clean, packed.filename), join(appDir(app), 'jobwatch.tgz'));
    npm(['ci', '--no-audit', '--no-fund', '--prefer-offline', '--loglevel=error'], appDir(app));
    writeFileSync(join(appDir(app), 'worker.cjs'), WORKER);
    writeFileSync(join(appDir(app), 'worker.mjs'), ESM_WORKER);
  }
  writeFileSync(join(appDir('no-sdk'), 'started.cjs'), `require('jobwatch').start();\n${WORKER}`);
  writeFileSync(
    join(appDir('no-sdk'), 'api.mjs'),
    "import { BullMQInstrumentation } from 'jobwatch';\nconsole.log(typeof BullMQInstrumentation);\n",
  );
}, 300_000);

afterAll(async () => {
  await killAll();
  await redis.close();
  for (const dir of [work, clean]) rmSync(dir, { recursive: true, force: true });
});

describe('the packed tarball', () => {
  it('ships what users run: the build, LICENSE and the ops bundle, no tests or sources', () => {
    expect(packedFiles).toEqual(
      expect.arrayContaining([
        'LICENSE',
        'README.md',
        'dist/preload/register.js',
        'dist/preload/register.mjs',
        'dist/index.d.ts',
        'dist/cli/main.js',
        'alerts/jobwatch.rules.yml',
        'collector/otel-collector.yaml',
        'grafana/dashboards/jobwatch.json',
      ]),
    );
    const unwanted = packedFiles.filter((p) =>
      /^(test|src|bench|scripts|examples|stack)\/|\.mts$|tsconfig/.test(p),
    );
    expect(unwanted.filter((p) => !p.endsWith('.d.mts'))).toEqual([]);
  });

  it('ships source maps that carry their sources', () => {
    const maps = packedFiles.filter((p) => p.endsWith('.js.map'));
    expect(maps.length).toBeGreaterThan(10);
    for (const map of maps) {
      const { sources, sourcesContent } = JSON.parse(
        readFileSync(join(appDir('no-sdk'), 'node_modules/jobwatch', map), 'utf8'),
      ) as { sources: string[]; sourcesContent?: string[] };
      expect(sourcesContent?.length, map).toBe(sources.length);
    }
  });
});

describe.each(APPS)('in the app %s', (app) => {
  it('installs one copy of the SDK family, and nothing of it that the app did not have', () => {
    const lock = lockOf(app);
    for (const pkg of SDK_FAMILY) {
      const copies = packagesFor(lock, pkg);
      if (
        app === 'no-sdk' ||
        pkg === '@opentelemetry/sdk-node' ||
        pkg === '@opentelemetry/sdk-metrics'
      ) {
        expect(copies, pkg).toHaveLength(1);
      }
      if (app !== 'no-sdk') {
        // Every copy is one the app installs without jobwatch too.
        expect(
          copies.filter((p) => !reachableWithout(lock, 'jobwatch').has(p)),
          pkg,
        ).toEqual([]);
      }
    }
    // ...and the copies npm actually installed are the lockfile's.
    for (const path of packagesFor(lock, '@opentelemetry/sdk-node')) {
      expect(existsSync(join(appDir(app), path, 'package.json'))).toBe(true);
    }
  });

  it('instruments a worker started with --require jobwatch/register', async () => {
    const preloads =
      app === 'auto-instrumentations'
        ? ['--require', '@opentelemetry/auto-instrumentations-node/register']
        : [];
    await expectInstrumented(app, [...preloads, '--require', 'jobwatch/register'], 'worker.cjs');
  });
});

describe('in the app no-sdk', () => {
  it.each([
    ['--import jobwatch/register', 'worker.mjs'],
    ['start() from code', 'started.cjs'],
  ])('%s instruments the app (%s)', async (how, script) => {
    const flags = how.startsWith('--') ? how.split(' ') : [];
    await expectInstrumented('no-sdk', flags, script);
  });

  it('exports the programmatic API to ESM apps', () => {
    const out = execFileSync(process.execPath, [join(appDir('no-sdk'), 'api.mjs')], {
      encoding: 'utf8',
    });
    expect(out.trim()).toBe('function');
  });
});

/** The app runs `script` with `flags`: the job is processed, and worker_status and the job counter are on /metrics. */
async function expectInstrumented(app: App, flags: string[], script: string): Promise<void> {
  const port = await freePort();
  const queue = `packed-${app}-${script.replace(/\W/g, '')}`;
  const proc = spawnNode(
    [...flags, join(appDir(app), script)],
    {
      REDIS_URL: redis.url,
      QUEUE: queue,
      // Without traces, the auto-instrumentations' SDK registers only its meter
      // provider: jobwatch must join it there too, not start a second SDK.
      OTEL_TRACES_EXPORTER: 'none',
      // That SDK pushes OTLP by default; this app's metrics are scraped.
      OTEL_METRICS_EXPORTER: 'prometheus',
      OTEL_EXPORTER_PROMETHEUS_PORT: String(port),
      OTEL_NODE_RESOURCE_DETECTORS: 'env',
    },
    appDir(app),
  );
  await waitFor(() => proc.stdout.includes('processed'), { what: `the job (${app})` });
  const metrics = await waitFor(
    async () => {
      const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
      return text.includes('worker_status{') && text.includes('consumed_messages')
        ? text
        : undefined;
    },
    { what: `worker_status and the consumed counter on /metrics (${app})` },
  );
  expect(metrics).toMatch(
    new RegExp(
      `^worker_status\\{jobwatch_registry="redis://127\\.0\\.0\\.1:${redis.port}/0#bull",bullmq_worker_name="${queue}",messaging_destination_name="${queue}"[^}]*\\} 1$`,
      'm',
    ),
  );
  expect(metrics).toMatch(
    new RegExp(
      `^messaging_client_consumed_messages_total\\{[^}]*messaging_destination_name="${queue}"`,
      'm',
    ),
  );
  expect(proc.stderr).not.toContain('[jobwatch] error');
  await proc.stop();
}

// Keeps `readdirSync` honest: every app in test/package/apps is one of APPS.
it('tests every app in test/package/apps', () => {
  expect(readdirSync(join(repoRoot, 'test/package/apps')).sort()).toEqual([...APPS].sort());
});
