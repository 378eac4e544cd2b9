// Faults on BullMQ 6's PostgreSQL backend, on a cluster of this file's own:
// the database restarted while jobs run. Every job completes once, and the
// heartbeats and worker_status come back.
import { expect, it } from 'vitest';
import { LEASE_TABLE, REGISTRY_TABLE } from '../../src/backends/postgres/registry-store.js';
import { waitFor } from '../helpers/ports.js';
import { BULLMQ_SCHEMA, describeOnPostgres } from '../helpers/postgres.js';
import { processed } from '../helpers/preloaded.js';
import { find, scrape } from '../metrics/scrape.js';
import { usePostgresApps } from './setup.js';

const setup = usePostgresApps({ ownCluster: true });
const JOBS = 200;

async function workerStatus(metricsUrl: string, name: string): Promise<number | undefined> {
  return find(await scrape(metricsUrl), 'worker_status', { bullmq_worker_name: name })[0]?.value;
}

describeOnPostgres('PostgreSQL restarted with jobs in flight', () => {
  it('completes every job once, and heartbeats and worker_status recover', async () => {
    const view = await setup.view({ QUEUE: 'restart' });
    const worker = await setup.app({
      ROLE: 'worker',
      QUEUE: 'restart',
      WORKER_NAME: 'pg-restart',
      LOCK_MS: '2000',
    });
    const producer = await setup.app({
      ROLE: 'producer',
      QUEUE: 'restart',
      ADD_JOBS: String(JOBS),
      SLEEP_MS: '30',
    });
    expect((await producer.exited).code, producer.stderr).toBe(0);
    await waitFor(async () => (await workerStatus(view.metricsUrl, 'pg-restart')) === 1, {
      what: 'worker_status 1 on the view',
    });
    await waitFor(() => processed(worker).length >= 30, { what: '30 jobs done' });

    const cluster = setup.cluster!;
    cluster.stop();
    const doneWhileUp = processed(worker).length;
    await new Promise((r) => setTimeout(r, 2000));
    cluster.resume();
    const upAt = performance.now();

    const beat = await waitFor(
      async () => {
        const r = await setup.db.query(
          `SELECT last_beat > now() - interval '1 second' AS fresh FROM ${BULLMQ_SCHEMA}.${REGISTRY_TABLE} WHERE name = 'pg-restart'`,
        );
        return r.rows[0]?.fresh === true;
      },
      { what: 'a fresh heartbeat after the restart' },
    );
    expect(beat).toBe(true);
    // Whichever process holds the fleet-view lease after the outage reports the worker.
    await waitFor(
      async () => {
        const { rows } = await setup.db.query(`SELECT holder FROM ${BULLMQ_SCHEMA}.${LEASE_TABLE}`);
        const holder = [view, worker].find((p) => String(rows[0]?.holder).includes(`:${p.pid}:`));
        return holder && (await workerStatus(holder.metricsUrl, 'pg-restart')) === 1;
      },
      { what: 'worker_status 1 on the fleet view after the restart' },
    );
    const recoveredMs = performance.now() - upAt;

    // Jobs whose completion the outage refused stall back and run again (BullMQ's
    // at-least-once); every job ends completed exactly once.
    const counts = await waitFor(
      async () => {
        const c = await setup.jobCounts('restart');
        return c.completed === JOBS ? c : undefined;
      },
      { what: 'every job completed', timeoutMs: 60_000 },
    );
    expect(Object.values(counts).reduce((a, b) => a + b, 0)).toBe(JOBS); // none left elsewhere
    const ran = processed(worker);
    expect(new Set(ran).size).toBe(JOBS);
    const twice = ran.filter((id, i) => ran.indexOf(id) !== i);
    expect(twice.length).toBeLessThanOrEqual(5); // at most the jobs in flight at the stop (concurrency 5)

    console.log(
      `PostgreSQL restart: ${JOBS}/${JOBS} jobs completed once (${JOBS - doneWhileUp} not done at the stop, ${twice.length} in flight ran again); heartbeat and worker_status back ${Math.round(recoveredMs)} ms after the restart`,
    );
    expect(worker.running && view.running).toBe(true);
    for (const proc of [worker, view]) {
      const lines = proc.stderr.split('\n').filter((l) => l.includes('[jobwatch]'));
      expect(new Set(lines).size, lines.join('\n')).toBe(lines.length); // rate-limited: no repeats
      expect(lines.join('\n')).not.toMatch(/Redis/); // a PostgreSQL outage is named as one
    }
  });
});
