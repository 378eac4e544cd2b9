// Fault 4: a storm of parallel /metrics scrapes while the worker is busy.
// Every scrape is answered, all of them share one Redis collection per cache
// period (counted with MONITOR: only jobwatch's own reads, not the LLEN/ZCARD
// BullMQ's Lua scripts run), and the worker's event loop never stalls > 100 ms.
import { spawn } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { waitFor } from '../helpers/ports.js';
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
/** What one collection reads directly: 8 LLEN/ZCARD for the queue's depth, 1 registry read script. */
const DEPTH_READS = 8;

const setup = useFaultSetup();

/**
 * Records what clients (not Lua scripts) send to Redis, through redis-cli
 * MONITOR, until stop(). Each command is its quoted words, e.g.
 * ['llen', 'bull:storm:wait'].
 */
async function monitorRedis() {
  const cli = spawn('redis-cli', ['-p', String(setup.redis.port), 'monitor'], {
    stdio: ['ignore', 'pipe', 'ignore'],
  });
  let output = '';
  cli.stdout.on('data', (d) => {
    output += d;
  });
  await waitFor(() => output.startsWith('OK'), { what: 'MONITOR' });
  return {
    stop: async (): Promise<string[][]> => {
      await new Promise((r) => setTimeout(r, 100)); // the last commands' lines
      cli.kill();
      return output
        .split('\n')
        .filter((line) => /^\d+\.\d+ \[\d+ [^\]l]/.test(line)) // "[0 127.0.0.1:…]", not "[0 lua]"
        .map((line) => [...line.matchAll(/"((?:[^"\\]|\\.)*)"/g)].map((m) => m[1]!));
    },
  };
}

describe('fault 4: a storm of /metrics scrapes under load', () => {
  it(`${SCRAPERS} parallel scrapes: shared collection, bounded Redis reads, no event-loop stall > 100 ms`, async () => {
    const worker = await startApp(setup.redis.url, {
      QUEUE: 'storm',
      CONCURRENCY: '20',
      JOBWATCH_COLLECT_CACHE_MS: String(CACHE_MS),
    });
    const queue = queueOf(setup.redis, 'storm');
    const ids = await enqueue(queue, repeat(3000, { name: 'sleep', data: { ms: 20 } }));
    await waitFor(() => lines(worker.proc, 'processed').length >= 200, { what: 'load' });
    await probe(worker); // starts a fresh event-loop delay window
    await new Promise((r) => setTimeout(r, 1000));
    const quiet = await probe(worker);

    const monitor = await monitorRedis();
    const started = performance.now();
    const codes: number[] = [];
    for (let wave = 0; wave < WAVES; wave++) {
      const responses = await Promise.all(
        Array.from({ length: SCRAPERS }, async () => {
          const res = await fetch(worker.metricsUrl);
          const text = await res.text();
          return res.status === 200 && text.includes('bullmq_queue_jobs{') ? 200 : res.status;
        }),
      );
      codes.push(...responses);
    }
    const stormMs = performance.now() - started;
    const commands = await monitor.stop();
    const storm = await probe(worker);

    const depthReads = commands.filter(
      ([cmd, key]) => /^(llen|zcard)$/i.test(cmd!) && key?.startsWith('bull:storm:'),
    ).length;
    const registryReads = commands.filter(
      ([cmd, , keys, key]) =>
        /^evalsha$/i.test(cmd!) && keys === '1' && key === 'bull:jobwatch:instances',
    ).length;
    const collectionsAllowed = Math.ceil(stormMs / CACHE_MS) + 1;
    console.log(
      `fault 4: ${WAVES} waves of ${SCRAPERS} parallel scrapes in ${Math.round(stormMs)} ms, all answered: ` +
        `${depthReads / DEPTH_READS} queue-depth reads, ${registryReads} registry reads (at most ${collectionsAllowed} allowed); ` +
        `longest event-loop delay ${storm.loopDelayMs} ms during the storm, ${quiet.loopDelayMs} ms under the same load without it`,
    );
    expect(codes).toEqual(Array(SCRAPERS * WAVES).fill(200));
    expect(depthReads).toBeGreaterThan(0); // the storm did read (the count is of the right thing)
    expect(depthReads).toBeLessThanOrEqual(collectionsAllowed * DEPTH_READS);
    expect(registryReads).toBeLessThanOrEqual(collectionsAllowed);
    expect(storm.loopDelayMs).toBeLessThan(100);
    await expectEachJobOnce(queue, ids, [worker.proc]);
  });
});
