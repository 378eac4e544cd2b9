// One preload flag for every app: CommonJS and ES module apps, each with
// `--require jobwatch/register` and `--import jobwatch/register`, on the
// command line and in NODE_OPTIONS (what a team sets once for every service),
// on both BullMQ majors. Each must trace its jobs and report its worker up.
import { join } from 'node:path';
import { describe, it } from 'vitest';
import { BULLMQ_MAJORS } from '../helpers/bullmq-majors.js';
import { useEsmWorkerCopies } from '../helpers/esm-app.js';
import { repoRoot, spawnNode } from '../helpers/node-process.js';
import { expectTracedAndUp, usePreloadedSetup } from '../helpers/preloaded.js';

const setup = usePreloadedSetup();
const esmWorkerBeside = useEsmWorkerCopies();

type ModuleType = 'cjs' | 'esm';
type Flag = '--require' | '--import';
type Form = 'argv' | 'NODE_OPTIONS';

const cases: [ModuleType, Flag, Form, 5 | 6][] = [];
for (const major of [6, 5] as const)
  for (const type of ['cjs', 'esm'] as const)
    for (const flag of ['--require', '--import'] as const)
      for (const form of ['argv', 'NODE_OPTIONS'] as const)
        if (form === 'argv' || major === 6) cases.push([type, flag, form, major]);

describe.each(cases)('%s app, %s jobwatch/register in %s, BullMQ %i', (type, flag, form, major) => {
  it('traces its jobs and reports its worker up', async () => {
    const queue = `modules-${type}-${flag.slice(2)}-${form}-${major}`;
    const app =
      type === 'cjs'
        ? join(repoRoot, 'test/fixtures/worker.cjs')
        : esmWorkerBeside(BULLMQ_MAJORS[major]);
    const env = await setup.env({
      QUEUE: queue,
      ...(type === 'cjs' ? { BULLMQ_PATH: BULLMQ_MAJORS[major] } : {}),
      ...(form === 'NODE_OPTIONS' ? { NODE_OPTIONS: `${flag} jobwatch/register` } : {}),
    });
    const args = form === 'argv' ? [flag, 'jobwatch/register', app] : [app];
    const worker = spawnNode(args, env);
    const [id] = await setup.addJobs(queue, 1);
    await expectTracedAndUp(setup, worker, env, queue, id!);
  });
});
