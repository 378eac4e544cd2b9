// Fault 4: a storm of parallel /metrics scrapes while the worker is busy.
// Every scrape is answered, all of them share one Redis collection per cache
// period (counted with MONITOR: jobwatch's own script calls, one per queue
// and one per registry read). The event-loop delay is printed, not asserted:
// latency figures belong in bench/, where runs are compared side by side.

import { describe, expect, it } from 'vitest';
import { beatsKey } from '../../src/backends/redis/keys.js';
import { freePort, waitFor } from '../helpers/ports.js';
import {
  enqueue,
  expectEachJobOnce,
  lines,
  probe,
  queueOf,
  repeat,
  startApp,
  useFaultSetup,
} from './harness.js';

const SCRAPERS = 50;
const WAVES = 4;
const CACHE_MS = 1000;

const setup = useFaultSetup();

describe('fault 4: a storm of /metrics scrapes under load', () => {
  it(`${SCRAPERS} parallel scrapes: all answered, shared collection, bounded Redis reads`, async () => {
    const healthPort = await freePort();
    const worker = await startApp(setup.redis.url, {
      QUEUE: 'storm',
      CONCURRENCY: '20',
      JOBWATCH_COLLECT_CACHE_MS: String(CACHE_MS),
      JOBWATCH_HEALTH_PORT: String(healthPort),
    });
    // Half the storm asks /health/queues: it reads queue depth through the same collection.
    const healthUrl = `http://127.0.0.1:${healthPort}/health/queues`;
    const queue = queueOf(setup.redis, 'storm');
    const ids = await enqueue(queue, repeat(3000, { name: 'sleep', data: { ms: 20 } }));
    await waitFor(() => lines(worker.proc, 'processed').length >= 200, { what: 'load' });
    await probe(worker); // starts a fresh event-loop delay window
    await new Promise((r) => setTimeout(r, 1000));
    const quiet = await probe(worker);

    const monitor = await setup.redis.monitor();
    const started = performance.now();
    const codes: number[] = [];
    for (let wave = 0; wave < WAVES; wave++) {
      const responses = await Promise.all(
        Array.from({ length: SCRAPERS }, async (_, i) => {
          const health = i % 2 === 1;
          const res = await fetch(health ? healthUrl : worker.metricsUrl);
          const text = await res.text();
          const complete = health
            ? text.includes('"storm":{"waiting"')
            : text.includes('bullmq_queue_jobs{');
          return res.status === 200 && complete ? 200 : res.status;
        }),
      );
      codes.push(...responses);
    }
    const stormMs = performance.now() - started;
    const commands = await monitor.stop();
    const storm = await probe(worker);

    // One script call per queue reads its 8 counts (its first key is the wait list);
    // a script's first call in a process is an EVAL, the later ones EVALSHA.
    const script = (cmd: string | undefined) => /^eval(sha)?$/i.test(cmd!);
    const depthReads = commands.filter(
      ([cmd, , keys, key]) => script(cmd) && keys === '8' && key === 'bull:storm:wait',
    ).length;
    const registryReads = commands.filter(
      ([cmd, , keys, key]) => script(cmd) && keys === '1' && key === beatsKey('bull'),
    ).length;
    // one per cache period, plus one already running when the storm began and
    // one the last wave may start as a period ends
    const collectionsAllowed = Math.ceil(stormMs / CACHE_MS) + 2;
    console.log(
      `fault 4: ${WAVES} waves of ${SCRAPERS} parallel scrapes of /metrics and /health/queues in ${Math.round(stormMs)} ms, all answered: ` +
        `${depthReads} queue-depth reads, ${registryReads} registry reads (at most ${collectionsAllowed} allowed); ` +
        `longest event-loop delay ${storm.loopDelayMs} ms during the storm, ${quiet.loopDelayMs} ms under the same load without it`,
    );
    expect(codes).toEqual(Array(SCRAPERS * WAVES).fill(200));
    expect(depthReads).toBeGreaterThan(0); // the storm did read (the count is of the right thing)
    expect(depthReads).toBeLessThanOrEqual(collectionsAllowed);
    expect(registryReads).toBeLessThanOrEqual(collectionsAllowed);
    await expectEachJobOnce(queue, ids, [worker.proc]);
  });
});
