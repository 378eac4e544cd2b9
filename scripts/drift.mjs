#!/usr/bin/env node
// npm run drift: what the registry published since the lockfiles were
// written, as a report that never fails (CI prints it for information). The
// tests install from lockfiles and do not see any of this; here:
//   - BullMQ releases newer than the matrix (npm run matrix:update adds them),
//   - OpenTelemetry releases outside jobwatch's ranges (the SDK, the API, the
//     newest auto-instrumentations-node and the SDK line it is on),
//   - a fresh install, without a lockfile, of the packed tarball beside the
//     newest SDK and beside the newest auto-instrumentations: how many copies
//     of the SDK family it gets (one each is the aim).
import { execFileSync } from 'node:child_process';
import { cpSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const manifest = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
const npm = (args, cwd = root) =>
  execFileSync('npm', args, { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
const view = (spec, field) => JSON.parse(npm(['view', spec, field, '--json']));
const say = (line) => console.log(`drift: ${line}`);
const parse = (v) => v.split('.').map(Number);
const compare = (a, b) => {
  const [x, y] = [parse(a), parse(b)];
  return x[0] - y[0] || x[1] - y[1] || x[2] - y[2];
};

function bullmq() {
  const releases = view('bullmq', 'versions').filter((v) => /^\d+\.\d+\.\d+$/.test(v));
  const tested = [
    ...readdirSync(join(root, 'test/versions')).filter((d) => /^\d+\.\d+\.\d+$/.test(d)),
    manifest.devDependencies.bullmq,
  ];
  for (const major of [5, 6]) {
    const newest = releases
      .filter((v) => parse(v)[0] === major)
      .sort(compare)
      .at(-1);
    const newestTested = tested
      .filter((v) => parse(v)[0] === major)
      .sort(compare)
      .at(-1);
    say(
      newest === newestTested
        ? `BullMQ ${major}: the newest release, ${newest}, is tested`
        : `BullMQ ${major}: ${newest} is out, the matrix tests up to ${newestTested}: run npm run matrix:update`,
    );
  }
}

function openTelemetry() {
  const sdk = view('@opentelemetry/sdk-node', 'version');
  const range = manifest.dependencies['@opentelemetry/sdk-node'];
  const inRange = npm(['view', `@opentelemetry/sdk-node@${range}`, 'version', '--json']);
  const newestInRange = [JSON.parse(inRange)].flat().sort(compare).at(-1);
  say(
    sdk === newestInRange
      ? `@opentelemetry/sdk-node ${sdk} (newest) is in jobwatch's range ${range}`
      : `@opentelemetry/sdk-node ${sdk} is out, outside jobwatch's range ${range} (newest inside: ${newestInRange})`,
  );
  const api = view('@opentelemetry/api', 'version');
  say(
    `@opentelemetry/api ${api} is the newest; jobwatch's peer range is ${manifest.peerDependencies['@opentelemetry/api']}`,
  );
  const auto = view('@opentelemetry/auto-instrumentations-node', 'version');
  const autoSdk = view(`@opentelemetry/auto-instrumentations-node@${auto}`, 'dependencies')[
    '@opentelemetry/sdk-node'
  ];
  say(`@opentelemetry/auto-instrumentations-node ${auto} (newest) depends on sdk-node ${autoSdk}`);
  return { auto };
}

/** Copies of each SDK package in a fresh app (no lockfile) with the tarball and `extra`. */
function freshInstall(tarball, extra) {
  const dir = mkdtempSync(join(tmpdir(), 'jobwatch-drift-'));
  try {
    cpSync(tarball, join(dir, 'jobwatch.tgz'));
    const dependencies = {
      jobwatch: 'file:jobwatch.tgz',
      bullmq: 'latest',
      ioredis: 'latest',
      ...extra,
    };
    writeFileSync(join(dir, 'package.json'), JSON.stringify({ private: true, dependencies }));
    npm(['install', '--no-audit', '--no-fund', '--loglevel=error'], dir);
    const lock = JSON.parse(readFileSync(join(dir, 'package-lock.json'), 'utf8'));
    return ['core', 'sdk-metrics', 'sdk-node'].map((name) => {
      const versions = Object.entries(lock.packages)
        .filter(([path]) => path.endsWith(`node_modules/@opentelemetry/${name}`))
        .map(([, entry]) => entry.version);
      return `${name} ×${versions.length} (${[...new Set(versions)].join(', ')})`;
    });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function installs(auto) {
  const out = mkdtempSync(join(tmpdir(), 'jobwatch-drift-pack-'));
  try {
    const [{ filename }] = JSON.parse(npm(['pack', '--json', '--pack-destination', out]));
    const tarball = join(out, filename);
    say(
      `fresh install beside the newest SDK: ${freshInstall(tarball, { '@opentelemetry/sdk-node': 'latest' }).join(', ')}`,
    );
    say(
      `fresh install beside auto-instrumentations-node ${auto}: ${freshInstall(tarball, {
        '@opentelemetry/auto-instrumentations-node': auto,
      }).join(', ')} (core: the auto-instrumentations bring their own copies)`,
    );
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
}

try {
  bullmq();
  const { auto } = openTelemetry();
  installs(auto);
} catch (err) {
  say(
    `could not finish (${err instanceof Error ? err.message.split('\n')[0] : err}); nothing is failed for it`,
  );
}
