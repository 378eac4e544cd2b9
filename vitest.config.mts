import { resolve } from 'node:path';
import { defineConfig } from 'vitest/config';

// JOBWATCH_TEST_BULLMQ=5 runs the same suite against BullMQ 5, installed in
// test/bullmq5 so that its path still ends in node_modules/bullmq (the path
// the instrumentation hooks).
const bullmq5 = process.env.JOBWATCH_TEST_BULLMQ === '5';

export default defineConfig({
  resolve: {
    alias: bullmq5
      ? { bullmq: resolve(import.meta.dirname, 'test/bullmq5/node_modules/bullmq') }
      : {},
  },
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    pool: 'forks',
    fileParallelism: true,
    maxWorkers: 2,
  },
});
