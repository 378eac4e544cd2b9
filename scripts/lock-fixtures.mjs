#!/usr/bin/env node
// npm run fixtures:lock: writes the lockfile of each app in test/package/apps,
// the apps the package tests install the packed tarball into with `npm ci`.
// Run it when jobwatch's own dependencies change (test/package/lockfile.test.ts
// says when), or to move an app to newer releases; then commit the lockfiles.
// The tarball's integrity is left out of the lockfiles: it changes with every build.
import { execFileSync } from 'node:child_process';
import {
  copyFileSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const apps = join(root, 'test/package/apps');
const npm = (args, cwd) =>
  execFileSync('npm', args, { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });

const out = mkdtempSync(join(tmpdir(), 'jobwatch-pack-'));
try {
  const packed = JSON.parse(npm(['pack', '--json', '--pack-destination', out], root));
  const tarball = join(out, packed[0].filename);
  for (const app of readdirSync(apps)) {
    const dir = join(apps, app);
    console.log(`fixtures:lock: ${app}`);
    copyFileSync(tarball, join(dir, 'jobwatch.tgz'));
    try {
      npm(['install', '--package-lock-only', '--no-audit', '--no-fund', '--loglevel=error'], dir);
    } finally {
      rmSync(join(dir, 'jobwatch.tgz'));
    }
    const lockPath = join(dir, 'package-lock.json');
    const lock = JSON.parse(readFileSync(lockPath, 'utf8'));
    delete lock.packages['node_modules/jobwatch'].integrity;
    writeFileSync(lockPath, `${JSON.stringify(lock, null, 2)}\n`);
  }
} finally {
  rmSync(out, { recursive: true, force: true });
}
