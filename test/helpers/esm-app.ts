// An ES module app imports BullMQ by its bare name, which resolves from the
// importing file: to run test/fixtures/worker.mjs on a given BullMQ, the test
// copies it into the package root that holds that BullMQ.
import { copyFileSync, rmSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { afterAll } from 'vitest';
import { repoRoot } from './node-process.js';

/** Returns a function giving the path of worker.mjs copied beside a BullMQ; the copies go after the file's tests. */
export function useEsmWorkerCopies(): (bullmqPath: string) => string {
  const copies: string[] = [];
  afterAll(() => {
    for (const file of copies) rmSync(file, { force: true });
  });
  return (bullmqPath) => {
    const packageRoot = bullmqPath === 'bullmq' ? repoRoot : dirname(dirname(resolve(bullmqPath)));
    const file = join(packageRoot, `.esm-app-worker-${process.pid}-${copies.length}.mjs`);
    copyFileSync(join(repoRoot, 'test/fixtures/worker.mjs'), file);
    copies.push(file);
    return file;
  };
}
