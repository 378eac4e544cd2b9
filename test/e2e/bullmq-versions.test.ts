// Every BullMQ version of the test matrix (test/versions, and the package's
// own 6) in a real app started with `--require jobwatch/register`: its jobs
// are processed, a failing one fails as it would without jobwatch,
// worker.close() resolves and the process exits by itself, the spans
// arrive, and the worker registry names the version. And an ES module app
// started with `--import` on each: its own module graph, hooked through
// Node's loader, traces its jobs and reports its worker. Older 5.x pass arguments and report failures differently
// (src/instrumentation/bullmq-versions.ts).
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { instanceKey } from '../../src/backends/redis/keys.js';
import { bullmqPath, bullmqVersion, matrixVersions } from '../helpers/bullmq-majors.js';
import { useEsmWorkerCopies } from '../helpers/esm-app.js';
import { repoRoot, spawnNode } from '../helpers/node-process.js';
import { waitFor } from '../helpers/ports.js';
import {
  expectTracedAndUp,
  processed,
  SPAN_KIND,
  usePreloadedSetup,
} from '../helpers/preloaded.js';

const setup = usePreloadedSetup();
const esmWorkerBeside = useEsmWorkerCopies();
const JOBS = 5;
const versions = [...matrixVersions(), bullmqVersion('')];

describe('a preloaded app on each BullMQ version', () => {
  it.each(versions)(
    'BullMQ %s: processes every job, fails the failing one, closes and exits',
    async (version) => {
      const queue = `round-trip-${version}`;
      const app = spawnNode(
        ['--require', 'jobwatch/register', 'test/fixtures/round-trip.cjs'],
        await setup.env({
          QUEUE: queue,
          JOBS: String(JOBS),
          BULLMQ_PATH: version === bullmqVersion('') ? bullmqPath('') : bullmqPath(version),
        }),
      );
      const exit = await Promise.race([
        app.exited,
        new Promise((r) => setTimeout(r, 30_000, 'still running')),
      ]);
      expect(app.stderr).not.toMatch(/worker error/);
      expect(exit).toEqual({ code: 0, signal: null });
      expect(processed(app)).toHaveLength(JOBS);
      expect(app.stdout).toMatch(/^closed$/m);
      const failedId = app.stdout.match(/^failed (\S+)$/m)?.[1];
      expect(failedId).toBeDefined();

      // the app flushed its spans on close: one process span per job, the failing one an error
      const spans = await waitFor(
        () => {
          const mine = setup.receiver.spans.filter(
            (s) => s.kind === SPAN_KIND.CONSUMER && s.name === `process ${queue}`,
          );
          return mine.length === JOBS ? mine : undefined;
        },
        { what: `the process spans of BullMQ ${version}` },
      );
      const failed = spans.find((s) => s.attributes['messaging.message.id'] === failedId)!;
      expect(failed.status.code).toBe(2);
      expect(failed.attributes['bullmq.job.outcome']).toBe('failed');
      expect(failed.attributes['error.type']).toBe('TypeError');
      const ok = spans.filter((s) => s !== failed);
      expect(ok.every((s) => s.attributes['bullmq.job.outcome'] === 'completed')).toBe(true);
      const sends = setup.receiver.spans.filter(
        (s) => s.kind === SPAN_KIND.PRODUCER && s.name === `send ${queue}`,
      );
      expect(sends).toHaveLength(JOBS);

      const workerId = app.stdout.match(/^worker (\S+)$/m)?.[1];
      const registry = setup.redis.client();
      try {
        expect(await registry.hget(instanceKey('bull', workerId!), 'bullmqVersion')).toBe(version);
      } finally {
        registry.disconnect();
      }
    },
  );
});

describe('an ES module app on each BullMQ version', () => {
  it.each(versions)(
    'BullMQ %s: --import jobwatch/register traces its jobs and reports its worker up',
    async (version) => {
      const queue = `esm-${version}`;
      const env = await setup.env({ QUEUE: queue });
      const app = esmWorkerBeside(
        version === bullmqVersion('') ? bullmqPath('') : bullmqPath(version),
      );
      const worker = spawnNode(['--import', 'jobwatch/register', app], env);
      const [id] = await setup.addJobs(queue, 1);
      await expectTracedAndUp(setup, worker, env, queue, id!);
    },
  );
});

describe('a BullMQ outside the peer range', () => {
  it('BullMQ 4.18.3: is left unpatched, one line says so, and the app works as without jobwatch', async () => {
    const queue = 'round-trip-4';
    const app = spawnNode(
      ['--require', 'jobwatch/register', 'test/fixtures/round-trip.cjs'],
      await setup.env({
        QUEUE: queue,
        JOBS: String(JOBS),
        BULLMQ_PATH: resolve(repoRoot, 'test/versions-unsupported/4.18.3/node_modules/bullmq'),
      }),
    );
    expect(await app.exited).toEqual({ code: 0, signal: null });
    expect(processed(app)).toHaveLength(JOBS);
    expect(app.stdout).toMatch(/^closed$/m);
    const lines = app.stderr.split('\n').filter((l) => l.includes('[jobwatch]'));
    expect(lines).toEqual([
      '[jobwatch] error: BullMQ 4.18.3 is not supported (jobwatch works with bullmq >=5.0.0 <7): it is left unpatched, so its jobs get no spans, metrics or worker health',
    ]);
  });
});
