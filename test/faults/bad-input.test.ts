// Faults 5 and 6: jobs whose trace headers are bad, and jobs with odd data
// and odd results, through real processes. Each workload runs twice, on a
// preloaded worker and on the same app without jobwatch (the control); every
// job must end exactly as in the control: same state, result, failure reason,
// attempts and data.
import { describe, expect, it } from 'vitest';
import { waitFor } from '../helpers/ports.js';
import {
  allFinished,
  enqueue,
  expectNoRepeatedWarnings,
  type JobSpec,
  jobwatchLines,
  outcomeOf,
  queueOf,
  startApp,
  tracesTo,
  useFaultSetup,
} from './harness.js';

const FOREIGN_TRACE = '4bf92f3577b34da6a3ce929d0e0e4736';
const FOREIGN_PARENT = `00-${FOREIGN_TRACE}-00f067aa0ba902b7-01`;

const setup = useFaultSetup();

/**
 * Runs `jobs` on a preloaded worker and on a control worker without jobwatch;
 * expects identical outcomes; resolves with the preloaded run's job ids.
 */
async function runBesideControl(label: string, jobs: JobSpec[], env: Record<string, string> = {}) {
  const runs = await Promise.all(
    [true, false].map(async (preload) => {
      const name = `${label}-${preload ? 'jobwatch' : 'control'}`;
      const app = await startApp(
        setup.redis.url,
        { QUEUE: name, ...tracesTo(setup.receiver.url), ...env },
        { preload },
      );
      const queue = queueOf(setup.redis, name);
      const ids = await enqueue(queue, jobs);
      await allFinished(queue, ids);
      const outcomes = await Promise.all(ids.map((id) => outcomeOf(queue, id)));
      return { app, name, ids, outcomes };
    }),
  );
  const [jobwatch, control] = runs as [(typeof runs)[0], (typeof runs)[0]];
  expect(jobwatch.outcomes).toEqual(control.outcomes);
  expect(jobwatch.app.proc.running && control.app.proc.running).toBe(true);
  const summary = jobwatch.outcomes.map((o) => `${o.name} ${o.state}`);
  console.log(`${label}: outcomes identical to plain BullMQ: ${summary.join(', ')}`);
  return jobwatch;
}

/** The process spans the receiver got for the jobs `ids` of `queue`. */
async function processSpans({ name, ids }: { name: string; ids: string[] }) {
  return waitFor(
    () => {
      const spans = setup.receiver.spans.filter(
        (s) =>
          s.name === `process ${name}` &&
          ids.includes(String(s.attributes['messaging.message.id'])),
      );
      return spans.length >= ids.length ? spans : undefined;
    },
    { what: `${ids.length} process spans`, timeoutMs: 20_000 },
  );
}

describe('fault 5: bad trace headers on jobs', () => {
  const badMetadata: [string, unknown][] = [
    ['not JSON', 'garbage{'],
    ['a malformed traceparent', JSON.stringify({ traceparent: '00-zz-yy-01' })],
    [
      'an all-zero trace id',
      JSON.stringify({ traceparent: `00-${'0'.repeat(32)}-00f067aa0ba902b7-01` }),
    ],
    ['another vendor’s headers', JSON.stringify({ 'uber-trace-id': 'abc:def:0:1', b3: '1-2-1' })],
    ['a JSON array', JSON.stringify([FOREIGN_PARENT])],
    ['JSON null', 'null'],
    ['1 MB of metadata', JSON.stringify({ traceparent: FOREIGN_PARENT, pad: 'x'.repeat(1 << 20) })],
    ['a number', 42],
    ['an object', { traceparent: FOREIGN_PARENT }],
  ];

  it('processes every job exactly as without jobwatch, each as a new root span', async () => {
    const jobs = badMetadata.map(([, metadata]) => ({
      name: 'work',
      data: {},
      opts: { telemetry: { metadata: metadata as string } },
    }));
    const run = await runBesideControl('bad-headers', jobs);
    const spans = await processSpans(run);
    expect(spans).toHaveLength(run.ids.length); // one attempt, one span per job
    for (const span of spans) {
      const label =
        badMetadata[run.ids.indexOf(String(span.attributes['messaging.message.id']))]![0];
      expect(span.parentSpanId, label).toBe('');
      expect(span.traceId, label).not.toBe(FOREIGN_TRACE);
      expect(span.attributes['bullmq.job.outcome'], label).toBe('completed');
    }
    const warnings = jobwatchLines(run.app.proc).filter((l) => l.includes('trace metadata'));
    expect(warnings).toHaveLength(1);
    expectNoRepeatedWarnings(run.app.proc);
  });

  it('continues a valid trace from another system, even with a tracestate it must drop', async () => {
    const tracestates = ['vendor=x', 'k=v,'.repeat(2000)]; // the second breaks W3C's 32-member limit
    const jobs = tracestates.map((tracestate) => ({
      name: 'work',
      opts: {
        telemetry: { metadata: JSON.stringify({ traceparent: FOREIGN_PARENT, tracestate }) },
      },
    }));
    const run = await runBesideControl('foreign-trace', jobs);
    const spans = await processSpans(run);
    expect(spans.map((s) => [s.traceId, s.parentSpanId])).toEqual([
      [FOREIGN_TRACE, '00f067aa0ba902b7'],
      [FOREIGN_TRACE, '00f067aa0ba902b7'],
    ]);
  });
});

describe('fault 6: odd job data and results', () => {
  const FIVE_MB = 5 * 1024 * 1024;
  const retried = { attempts: 2 };
  const jobs: JobSpec[] = [
    { name: 'return-data', data: 'just a string' },
    { name: 'return-data', data: 12.5 },
    { name: 'return-data', data: [1, 'two', { three: 3 }] },
    { name: 'return-data', data: null },
    { name: 'return-size', data: { blob: 'x'.repeat(FIVE_MB) } },
    { name: 'throw-string', opts: retried },
    { name: 'throw-undefined', opts: retried },
    { name: 'throw-object', opts: retried },
    { name: 'return-circular' },
    { name: 'return-bigint' },
    { name: 'return-function' },
  ];

  it('ends every job exactly as without jobwatch, and keeps payloads out of telemetry', async () => {
    // Results BullMQ cannot store leave their job active until its stall check
    // takes it back; short stall settings make that (the same with and without
    // jobwatch) happen within the test.
    const run = await runBesideControl('odd-data', jobs, {
      WORKER_OPTS: JSON.stringify({ stalledInterval: 500, lockDuration: 1000 }),
    });
    const spans = await processSpans(run);
    for (const span of spans) {
      for (const [key, value] of Object.entries(span.attributes)) {
        expect(String(value).length, key).toBeLessThan(1024);
      }
      expect(JSON.stringify(span.events)).not.toContain('xxxxxxxx');
    }
    expectNoRepeatedWarnings(run.app.proc);
  });
});
