// One preload flag for every app: CommonJS and ES module apps, each with
// `--require jobwatch/register` and `--import jobwatch/register`, on the
// command line and in NODE_OPTIONS (what a team sets once for every service),
// on both BullMQ majors. Each must trace its jobs and report its worker up.
import { copyFileSync, rmSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { BULLMQ_MAJORS } from '../helpers/bullmq-majors.js';
import { repoRoot, spawnNode } from '../helpers/node-process.js';
import { waitFor } from '../helpers/ports.js';
import { processed, SPAN_KIND, usePreloadedSetup } from '../helpers/preloaded.js';
import { scrape } from '../metrics/scrape.js';

const setup = usePreloadedSetup();
const copies: string[] = [];
afterAll(() => {
  for (const file of copies) rmSync(file, { force: true });
});

/** The ES module fixture, copied where a bare `import 'bullmq'` finds BullMQ `major`. */
function esmWorkerFor(major: 5 | 6): string {
  const path = BULLMQ_MAJORS[major];
  const packageRoot = path === 'bullmq' ? repoRoot : dirname(dirname(resolve(path)));
  const file = join(packageRoot, `.module-types-worker-${process.pid}-${major}.mjs`);
  copyFileSync(join(repoRoot, 'test/fixtures/worker.mjs'), file);
  copies.push(file);
  return file;
}

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
    const app = type === 'cjs' ? join(repoRoot, 'test/fixtures/worker.cjs') : esmWorkerFor(major);
    const env = await setup.env({
      QUEUE: queue,
      ...(type === 'cjs' ? { BULLMQ_PATH: BULLMQ_MAJORS[major] } : {}),
      ...(form === 'NODE_OPTIONS' ? { NODE_OPTIONS: `${flag} jobwatch/register` } : {}),
    });
    const args = form === 'argv' ? [flag, 'jobwatch/register', app] : [app];
    const worker = spawnNode(args, env);
    const [id] = await setup.addJobs(queue, 1);
    await waitFor(() => processed(worker).includes(id!), { what: `job ${id}` });
    await waitFor(
      () =>
        setup.receiver.spans.find(
          (s) => s.kind === SPAN_KIND.CONSUMER && s.attributes['messaging.message.id'] === id,
        ),
      { what: 'the process span', timeoutMs: 20_000 },
    );
    const metrics = `http://127.0.0.1:${env.OTEL_EXPORTER_PROMETHEUS_PORT}/metrics`;
    const up = await waitFor(
      async () =>
        (await scrape(metrics).catch(() => undefined))?.samples.find(
          (s) => s.name === 'worker_status' && s.labels.messaging_destination_name === queue,
        ),
      { what: 'worker_status' },
    );
    expect(up.value).toBe(1);
    expect(worker.stderr).not.toContain('[jobwatch] error');
  });
});
