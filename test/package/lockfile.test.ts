// `npm ci` on a contributor's macOS, Windows or Linux-arm machine needs every
// platform's optional binaries (biome's CLI, msgpackr-extract's) in the
// lockfile, although this machine installs only its own.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { repoRoot } from '../helpers/node-process.js';

interface Lockfile {
  packages: Record<string, { optionalDependencies?: Record<string, string> }>;
}

const lockfiles = [
  'package-lock.json',
  ...readdirSync(join(repoRoot, 'test/versions'))
    .filter((v) => /^\d+\.\d+\.\d+$/.test(v))
    .map((v) => `test/versions/${v}/package-lock.json`),
  ...readdirSync(join(repoRoot, 'test/package/apps')).map(
    (app) => `test/package/apps/${app}/package-lock.json`,
  ),
];

describe.each(lockfiles)('%s', (file) => {
  it('lists every optional dependency of every package, for every platform', () => {
    const lock = JSON.parse(readFileSync(join(repoRoot, file), 'utf8')) as Lockfile;
    const missing: string[] = [];
    for (const [path, entry] of Object.entries(lock.packages)) {
      for (const name of Object.keys(entry.optionalDependencies ?? {})) {
        const nested = `${path}/node_modules/${name}`;
        if (!lock.packages[nested] && !lock.packages[`node_modules/${name}`]) {
          missing.push(`${path || '(root)'} → ${name}`);
        }
      }
    }
    expect(missing).toEqual([]);
  });
});

// The apps the package tests install with `npm ci` record what jobwatch
// depends on; a change to package.json must be carried into their lockfiles
// (`npm run fixtures:lock`), or they would test yesterday's dependencies.
const apps = readdirSync(join(repoRoot, 'test/package/apps'));
const manifest = JSON.parse(readFileSync(join(repoRoot, 'package.json'), 'utf8')) as Record<
  string,
  unknown
>;

describe.each(apps)('test/package/apps/%s/package-lock.json', (app) => {
  const lock = JSON.parse(
    readFileSync(join(repoRoot, 'test/package/apps', app, 'package-lock.json'), 'utf8'),
  ) as { packages: Record<string, Record<string, unknown>> };

  it("records jobwatch's dependencies, peer ranges and engines as package.json has them", () => {
    const entry = lock.packages['node_modules/jobwatch']!;
    for (const field of ['dependencies', 'peerDependencies', 'engines']) {
      expect(entry[field], `${field}: run npm run fixtures:lock`).toEqual(manifest[field]);
    }
  });
});
