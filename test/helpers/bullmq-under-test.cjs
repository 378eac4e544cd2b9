// The BullMQ a test run uses, for the test process (vitest.config.mts aliases
// `bullmq` to it) and for the apps the tests spawn. JOBWATCH_TEST_BULLMQ
// holds an exact version installed in test/versions/<version> (so its path
// still ends in node_modules/bullmq, the path the instrumentation hooks, as in
// a user's app), or a major ("5": the newest 5 there). Unset: the package's
// own dev dependency, the newest 6.
const { existsSync, readdirSync } = require('node:fs');
const { resolve } = require('node:path');

const VERSIONS_DIR = resolve(__dirname, '../versions');

function compareVersions(a, b) {
  const [x, y] = [a, b].map((v) => v.split('.').map(Number));
  return x[0] - y[0] || x[1] - y[1] || x[2] - y[2];
}

/** The versions installed for the matrix, oldest first. */
function matrixVersions() {
  return readdirSync(VERSIONS_DIR)
    .filter((d) => /^\d+\.\d+\.\d+$/.test(d))
    .sort(compareVersions);
}

/** Where to load BullMQ `wanted` from (a version, a major, or '' for the package's own). */
function bullmqPath(wanted = process.env.JOBWATCH_TEST_BULLMQ ?? '') {
  if (wanted === '') return 'bullmq';
  const version = /^\d+$/.test(wanted)
    ? matrixVersions()
        .filter((v) => v.startsWith(`${wanted}.`))
        .pop()
    : wanted;
  const path = version && resolve(VERSIONS_DIR, version, 'node_modules/bullmq');
  if (!path || !existsSync(path))
    throw new Error(
      `JOBWATCH_TEST_BULLMQ=${wanted}: not installed under test/versions (there: ${matrixVersions().join(', ')}; scripts/run installs them)`,
    );
  return path;
}

/** The version of the BullMQ under test, e.g. '5.1.12'. */
function bullmqVersion(wanted) {
  return require(`${bullmqPath(wanted)}/package.json`).version;
}

module.exports = { bullmqPath, bullmqVersion, compareVersions, matrixVersions };
