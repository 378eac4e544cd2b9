#!/usr/bin/env node
// npm run matrix:update: keeps the BullMQ test matrix on the newest releases.
// Lists the newest patch of every BullMQ minor, resolves test/versions/matrix.json
// against that list (an exact version stays, a minor becomes its newest patch,
// a major its newest release), writes test/versions/<version>/ (package.json
// and lockfile) for each and removes the others, moves the package's own dev
// dependency (and the package tests' apps) to the newest 6, and relocks those
// apps. One command, one commit.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const versionsDir = join(root, 'test/versions');
const appsDir = join(root, 'test/package/apps');
const npm = (args, cwd = root) =>
  execFileSync('npm', args, { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });

const parse = (v) => v.split('.').map(Number);
const compare = (a, b) => {
  const [x, y] = [parse(a), parse(b)];
  return x[0] - y[0] || x[1] - y[1] || x[2] - y[2];
};

/** Newest patch per minor, from the registry, for majors 5 and up (no prereleases). */
function newestPatches() {
  const all = JSON.parse(npm(['view', 'bullmq', 'versions', '--json']));
  const byMinor = new Map();
  for (const v of all.filter((v) => /^\d+\.\d+\.\d+$/.test(v) && parse(v)[0] >= 5)) {
    const minor = v.split('.').slice(0, 2).join('.');
    if (!byMinor.has(minor) || compare(v, byMinor.get(minor)) > 0) byMinor.set(minor, v);
  }
  return [...byMinor.values()].sort(compare);
}

function resolve(entry, newest) {
  if (/^\d+\.\d+\.\d+$/.test(entry)) return entry;
  const matching = newest.filter((v) => v === entry || v.startsWith(`${entry}.`));
  if (matching.length === 0) throw new Error(`matrix.json: no BullMQ release matches ${entry}`);
  return matching.at(-1);
}

function writeVersion(version) {
  const dir = join(versionsDir, version);
  mkdirSync(dir, { recursive: true });
  const manifest = {
    name: `jobwatch-test-bullmq-${version}`,
    private: true,
    description: `BullMQ ${version} for the version matrix (JOBWATCH_TEST_BULLMQ=${version}): installed here so that it sits at node_modules/bullmq, the path the instrumentation hooks.`,
    dependencies: {
      bullmq: version,
      // BullMQ 6 takes ioredis as an optional peer: the tests' apps connect with it.
      ...(parse(version)[0] >= 6 && { ioredis: devVersion('ioredis') }),
    },
  };
  writeFileSync(join(dir, 'package.json'), `${JSON.stringify(manifest, null, 2)}\n`);
  npm(['install', '--package-lock-only', '--no-audit', '--no-fund', '--loglevel=error'], dir);
}

function devVersion(name) {
  return JSON.parse(readFileSync(join(root, 'node_modules', name, 'package.json'), 'utf8')).version;
}

const newest = newestPatches();
const newest6 = newest.filter((v) => v.startsWith('6.')).at(-1);
const { versions: entries } = JSON.parse(readFileSync(join(versionsDir, 'matrix.json'), 'utf8'));
const matrix = [...new Set(entries.map((e) => resolve(e, newest)))].sort(compare);

console.log(
  'matrix:update: the newest patch of each BullMQ minor (* = in the matrix, + = the dev dependency):',
);
for (const v of newest)
  console.log(`  ${matrix.includes(v) ? '*' : v === newest6 ? '+' : ' '} ${v}`);

for (const dir of readdirSync(versionsDir)) {
  if (/^\d+\.\d+\.\d+$/.test(dir) && !matrix.includes(dir)) {
    console.log(`matrix:update: removing test/versions/${dir}`);
    rmSync(join(versionsDir, dir), { recursive: true, force: true });
  }
}
for (const version of matrix) {
  const lock = join(versionsDir, version, 'package-lock.json');
  if (existsSync(lock)) continue;
  console.log(`matrix:update: adding test/versions/${version}`);
  writeVersion(version);
}

if (devVersion('bullmq') !== newest6) {
  console.log(`matrix:update: dev dependency bullmq ${devVersion('bullmq')} -> ${newest6}`);
  npm(['install', '--save-dev', '--save-exact', '--no-audit', '--no-fund', `bullmq@${newest6}`]);
}
for (const app of readdirSync(appsDir)) {
  const file = join(appsDir, app, 'package.json');
  const manifest = JSON.parse(readFileSync(file, 'utf8'));
  if (parse(manifest.dependencies.bullmq)[0] === 6) manifest.dependencies.bullmq = newest6;
  writeFileSync(file, `${JSON.stringify(manifest, null, 2)}\n`);
}
npm(['run', 'fixtures:lock']);
console.log(
  `matrix:update: done: ${matrix.join(', ')} and ${newest6} (dev); commit test/versions, test/package/apps, package.json and package-lock.json`,
);
