import { createRequire } from 'node:module';
import { defineConfig } from 'vitest/config';

// JOBWATCH_TEST_BULLMQ=<version> (or a major) runs the suite against that
// BullMQ, installed under test/versions (see test/helpers/bullmq-under-test.cjs):
// the test process imports it as `bullmq`, and the apps it spawns load it too.
const { bullmqPath } = createRequire(import.meta.url)('./test/helpers/bullmq-under-test.cjs');
const bullmq: string = bullmqPath();

export default defineConfig({
  resolve: {
    alias: bullmq === 'bullmq' ? {} : { bullmq },
  },
  test: {
    include: ['test/**/*.test.ts'],
    globalSetup: ['test/global-setup.ts'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    pool: 'forks',
    fileParallelism: true,
    maxWorkers: 2,
  },
});
