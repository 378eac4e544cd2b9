// The BullMQ majors jobwatch supports, as a spawned app loads them: 6 is the
// package's own dependency, 5 lives in test/bullmq5 (its path still ends in
// node_modules/bullmq, so the preload's hook matches it as in a user's app).
import { resolve } from 'node:path';
import { repoRoot } from './node-process.js';

export const BULLMQ_MAJORS = {
  6: 'bullmq',
  5: resolve(repoRoot, 'test/bullmq5/node_modules/bullmq'),
} as const;
