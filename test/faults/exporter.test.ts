// Fault 3: the trace endpoint is down, slow (10 s per response) or refuses
// exports (500, 429). Over 20,000 jobs: every job runs once, the process's
// memory stays bounded (spans are dropped, not queued without end), jobwatch
// says so once, and spans flow again as soon as a collector answers.
import { afterEach, describe, expect, it } from 'vitest';
import { freePort, waitFor } from '../helpers/ports.js';
import type { Receiver } from '../helpers/preloaded.js';
import {
  type CollectorFault,
  enqueue,
  expectEachJobOnce,
  expectNoRepeatedWarnings,
  faultyCollector,
  jobwatchLines,
  lines,
  otlpReceiver,
  probe,
  queueOf,
  repeat,
  rssOf,
  startApp,
  tracesTo,
  useFaultSetup,
} from './harness.js';

const JOBS = 20_000;
const MB = 1024 * 1024;
/**
 * Heap retained after a full GC may grow this much from 5,000 jobs to 20,000:
 * keeping the 15,000 spans in between would take several times more.
 */
const MAX_RETAINED_GROWTH_MB = 8;

const setup = useFaultSetup();
let collector: Receiver | undefined;
afterEach(async () => {
  await collector?.close();
  collector = undefined;
});

type Endpoint = CollectorFault | 'down' | 'working';

/** An OTLP endpoint with `fault`: 'down' is a port nothing listens on. */
async function endpointWith(fault: Endpoint) {
  if (fault === 'working') {
    const working = await otlpReceiver();
    return { ...working, port: Number(new URL(working.url).port), requests: Number.NaN };
  }
  if (fault !== 'down') return faultyCollector(fault);
  const port = await freePort();
  return { url: `http://127.0.0.1:${port}`, port, requests: Number.NaN, close: async () => {} };
}

describe('fault 3: trace endpoint down, slow or refusing', () => {
  it.each<[string, Endpoint]>([
    ['working (the reference run)', 'working'],
    ['down', 'down'],
    ['slow (10 s responses)', 'slow'],
    ['answering 500', 500],
    ['answering 429', 429],
  ])(
    'endpoint %s: every job runs once, retained memory flat, at most one warning, spans resume',
    async (label, fault) => {
      const endpoint = await endpointWith(fault);
      const name = `exporter-${String(fault)}`;
      const worker = await startApp(setup.redis.url, {
        QUEUE: name,
        CONCURRENCY: '50',
        ...tracesTo(endpoint.url),
      });
      const queue = queueOf(setup.redis, name);
      let peakRss = 0;
      const sampler = setInterval(() => {
        peakRss = Math.max(peakRss, rssOf(worker.proc.pid));
      }, 100);
      const started = performance.now();
      let ids: string[];
      let warm: Awaited<ReturnType<typeof probe>>;
      try {
        const adding = enqueue(queue, repeat(JOBS, { name: 'work' }));
        await waitFor(() => lines(worker.proc, 'processed').length >= 5000, {
          what: '5000 jobs',
          timeoutMs: 30_000,
        });
        warm = await probe(worker);
        ids = await adding;
        await expectEachJobOnce(queue, ids, [worker.proc]);
      } finally {
        clearInterval(sampler); // also when a check fails and the worker is gone
      }
      const seconds = (performance.now() - started) / 1000;
      const end = await probe(worker);
      const growthMb = (end.heap - warm.heap) / MB;
      console.log(
        `fault 3, endpoint ${label}: ${ids.length}/${JOBS} jobs completed once in ${seconds.toFixed(1)} s ` +
          `(${Math.round(JOBS / seconds)} jobs/s incl. enqueueing); peak RSS ${(peakRss / MB).toFixed(0)} MB; ` +
          `heap after GC ${(warm.heap / MB).toFixed(1)} MB at 5k jobs, ${(end.heap / MB).toFixed(1)} MB at 20k; ` +
          `export requests: ${endpoint.requests}`,
      );
      expect(growthMb).toBeLessThan(MAX_RETAINED_GROWTH_MB);
      expectNoRepeatedWarnings(worker.proc);
      if (fault === 'working') {
        expect(jobwatchLines(worker.proc)).toEqual([]);
        return;
      }
      if (fault !== 'down') expect(endpoint.requests).toBeGreaterThan(0);
      // (a slow endpoint fails an export only when the exporter's 10 s timeout ends)
      const isExport = (l: string) => /export/i.test(l);
      await waitFor(() => jobwatchLines(worker.proc).some(isExport), {
        what: 'the export warning',
        timeoutMs: 40_000, // the exporter's 10 s timeout, then its retries, on a loaded machine
      });
      const exportWarnings = jobwatchLines(worker.proc).filter(isExport);
      expect(exportWarnings, worker.proc.stderr).toHaveLength(1);
      expect(exportWarnings[0]).toContain(endpoint.url.replace('http://', ''));

      // The fault ends: a working collector on the same address. Spans already
      // dropped stay dropped; those of jobs run from then on arrive once the
      // exporter's retries and the batch queue let them through.
      await endpoint.close();
      const backAt = performance.now();
      collector = await otlpReceiver(endpoint.port);
      const after: string[] = [];
      const arrived = () =>
        collector!.spans.some((s) => after.includes(String(s.attributes['messaging.message.id'])));
      await waitFor(
        async () => {
          after.push(...(await enqueue(queue, [{ name: 'work' }])));
          return arrived();
        },
        { what: 'a span of a job run after the fault', timeoutMs: 30_000, intervalMs: 250 },
      );
      console.log(
        `fault 3, endpoint ${label}: spans of new jobs arrive ${Math.round(performance.now() - backAt)} ms after the collector is back`,
      );
      expect(worker.proc.running).toBe(true);
    },
  );
});
