import { createRequire } from 'node:module';
import { defineConfig } from 'vitest/config';

// JOBWATCH_TEST_BULLMQ=<version> (or a major) runs the suite against that
// BullMQ, installed under test/versions (see test/helpers/bullmq-under-test.cjs):
// the test process imports it as `bullmq`, and the apps it spawns load it too.
const require = createRequire(import.meta.url);
const { bullmqPath } = require('./test/helpers/bullmq-under-test.cjs');
const bullmq: string = bullmqPath();

// jobwatch loads the SDK's packages with require(), as they run in an app
// (src/otel-sdk.ts): the tests import the same CommonJS build of the API, so
// that there is one API (one set of proxies) in a test process, as in an app.
const api = require.resolve('@opentelemetry/api');

export default defineConfig({
  resolve: {
    alias: { '@opentelemetry/api': api, ...(bullmq === 'bullmq' ? {} : { bullmq }) },
  },
  test: {
    include: ['test/**/*.test.ts'],
    globalSetup: ['test/global-setup.ts'],
    setupFiles: ['test/kill-leftovers.ts'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    pool: 'forks',
    fileParallelism: true,
    maxWorkers: 2,
  },
});
