// Worker health of preloaded BullMQ 6 apps on PostgreSQL, across real
// processes: beats land in the database's registry table, and another process
// (here one that only holds a Queue) reports a SIGKILLed worker 0.
import { assertSchemaCompatibility } from 'bullmq';
import { expect, it } from 'vitest';
import { REGISTRY_TABLE } from '../../src/backends/postgres/registry-store.js';
import { MISSED_BEATS_FOR_DEAD } from '../../src/registry/liveness.js';
import { spawnNode } from '../helpers/node-process.js';
import { freePort, waitFor } from '../helpers/ports.js';
import { BULLMQ_SCHEMA, describeOnPostgres, PostgresDatabase } from '../helpers/postgres.js';
import { processed } from '../helpers/preloaded.js';
import { scrape } from '../metrics/scrape.js';
import { usePostgresApps } from './setup.js';

const INTERVAL = 500;
const setup = usePostgresApps();

async function status(metricsUrl: string, name: string): Promise<number | undefined> {
  const { samples } = await scrape(metricsUrl);
  return samples.find((s) => s.name === 'worker_status' && s.labels.bullmq_worker_name === name)
    ?.value;
}

async function statusBecomes(metricsUrl: string, name: string, value: number) {
  const since = performance.now();
  await waitFor(async () => (await status(metricsUrl, name)) === value, {
    intervalMs: 25,
    what: `worker_status{${name}} == ${value}`,
  });
  return performance.now() - since;
}

describeOnPostgres('worker health on PostgreSQL', () => {
  it('a SIGKILLed worker is reported 0 by another process within 3 beats and one collection', async () => {
    const healthPort = await freePort();
    const view = await setup.view({ QUEUE: 'kill', JOBWATCH_HEALTH_PORT: String(healthPort) });
    const worker = await setup.app({ ROLE: 'worker', QUEUE: 'kill', WORKER_NAME: 'pg-killed' });
    await waitFor(() => worker.stdout.includes('ready'), { what: 'the worker' });
    await statusBecomes(view.metricsUrl, 'pg-killed', 1);

    const { rows } = await setup.db.query(
      `SELECT name, queue, status, (fields->>'pid')::int AS pid FROM ${BULLMQ_SCHEMA}.${REGISTRY_TABLE}`,
    );
    expect(rows).toEqual([
      { name: 'pg-killed', queue: 'kill', status: 'running', pid: worker.pid },
    ]);

    expect(worker.stderr).not.toMatch(/unavailable/);
    worker.child.kill('SIGKILL');
    const detectedMs = await statusBecomes(view.metricsUrl, 'pg-killed', 0);
    console.log(`PostgreSQL: SIGKILL -> worker_status 0 in ${Math.round(detectedMs)} ms`);
    // 3 missed beats, one collection (cached at most one interval), and slack for a busy machine.
    expect(detectedMs).toBeLessThanOrEqual(MISSED_BEATS_FOR_DEAD * INTERVAL + INTERVAL + 2000);
    const res = await fetch(`http://127.0.0.1:${healthPort}/health/queues`);
    const body = (await res.json()) as {
      workers: Record<string, unknown>;
      queues: Record<string, unknown>;
    };
    expect(body.queues.kill).toMatchObject({ waiting: 0, active: 0, failed: 0 }); // depth on PostgreSQL
    expect(body.workers['pg-killed']).toMatchObject({
      alive: false,
      state: 'dead',
      pid: worker.pid,
    });
    expect(view.stderr).not.toMatch(/unavailable|unreadable/);
  });

  it('an idle worker stays running past every fetch-loop budget (its LISTEN wait is no wedge)', async () => {
    const worker = await setup.app({ ROLE: 'worker', QUEUE: 'quiet', WORKER_NAME: 'pg-idle' });
    await waitFor(() => worker.stdout.includes('ready'), { what: 'the worker' });
    const state = async () => {
      const cli = spawnNode(['dist/cli/main.js', 'status', '--json', '--postgres', setup.db.url], {
        JOBWATCH_REDIS_URL: '',
      });
      await cli.exited;
      return (JSON.parse(cli.stdout) as any).workers['pg-idle']?.state as string | undefined;
    };
    await waitFor(async () => (await state()) === 'running', { what: 'pg-idle running' });
    // A waitForJob may take its block (drainDelay, 5 s) + 9 s before it counts as stalled.
    const until = Date.now() + 20_000;
    while (Date.now() < until) {
      expect(await state()).toBe('running');
      await new Promise((r) => setTimeout(r, 1000));
    }
  }, 40_000);

  it('the fleet-view lease moves: a survivor reports the worker that died with the holder', async () => {
    const holder = await setup.view({ QUEUE: 'takeover' });
    const survivor = await setup.app({ ROLE: 'queue', QUEUE: 'takeover', ADD_JOBS: '0' });
    const worker = await setup.app({ ROLE: 'worker', QUEUE: 'takeover', WORKER_NAME: 'pg-gone' });
    await statusBecomes(holder.metricsUrl, 'pg-gone', 1);
    await waitFor(() => scrape(survivor.metricsUrl), { what: "the survivor's /metrics" });
    expect(await status(survivor.metricsUrl, 'pg-gone')).toBeUndefined(); // one view exports the fleet
    holder.child.kill('SIGKILL');
    worker.child.kill('SIGKILL');
    const ms = await statusBecomes(survivor.metricsUrl, 'pg-gone', 0);
    console.log(
      `PostgreSQL: holder and worker SIGKILLed -> survivor reports 0 in ${Math.round(ms)} ms`,
    );
    // The lease lapses within 2 beats, the worker is dead after 3: one collection and slack on top.
    expect(ms).toBeLessThanOrEqual(MISSED_BEATS_FOR_DEAD * INTERVAL + 2 * INTERVAL + 2000);
  });

  it('a worker closed by SIGTERM is reported stopped at once, from the row it wrote on its way out', async () => {
    const view = await setup.view({ QUEUE: 'term' });
    const worker = await setup.app({ ROLE: 'worker', QUEUE: 'term', WORKER_NAME: 'pg-term' });
    await statusBecomes(view.metricsUrl, 'pg-term', 1);
    expect((await worker.stop('SIGTERM')).signal).toBe('SIGTERM');
    const { rows } = await setup.db.query(
      `SELECT status, stopped_at IS NOT NULL AS stopped FROM ${BULLMQ_SCHEMA}.${REGISTRY_TABLE} WHERE name = 'pg-term'`,
    );
    expect(rows).toEqual([{ status: 'stopped', stopped: true }]);
    await statusBecomes(view.metricsUrl, 'pg-term', 0);
  });

  it('an app that closes its worker on SIGTERM is reported stopped cleanly, after BullMQ closed its pool', async () => {
    const view = await setup.view({ QUEUE: 'graceful' });
    const worker = await setup.app({
      ROLE: 'worker',
      QUEUE: 'graceful',
      WORKER_NAME: 'pg-graceful',
      APP_SIGTERM: '1',
    });
    await statusBecomes(view.metricsUrl, 'pg-graceful', 1);
    expect(await worker.stop('SIGTERM')).toEqual({ code: 0, signal: null });
    const { rows } = await setup.db.query(
      `SELECT status, fields->>'reason' AS reason FROM ${BULLMQ_SCHEMA}.${REGISTRY_TABLE} WHERE name = 'pg-graceful'`,
    );
    expect(rows).toEqual([{ status: 'stopped', reason: 'stopped cleanly (worker.close())' }]);
    expect(worker.stderr).not.toContain('[jobwatch]');
  });

  // BullMQ 6 releases before opt-in migrations (no assertSchemaCompatibility) migrate on every
  // connect, which needs CREATE: without it BullMQ itself cannot start there.
  it.skipIf(typeof assertSchemaCompatibility !== 'function')(
    'a database user without CREATE rights: one clear line, heartbeats unavailable, every job processed',
    async () => {
      const db = await PostgresDatabase.create(); // no registry table yet
      const role = `jobwatch_app_${process.pid}`;
      try {
        // Newer BullMQ 6 creates a queue's id sequence on its first add: done once by the owner here.
        await db.query(
          `DO $$ BEGIN
           IF to_regprocedure('${BULLMQ_SCHEMA}.next_job_id(text)') IS NOT NULL THEN
             PERFORM ${BULLMQ_SCHEMA}.next_job_id('limited');
           END IF;
         END $$`,
        );
        await db.query(`CREATE ROLE ${role} LOGIN`);
        for (const grant of [
          `USAGE ON SCHEMA ${BULLMQ_SCHEMA}`,
          `SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA ${BULLMQ_SCHEMA}`,
          `USAGE, SELECT, UPDATE ON ALL SEQUENCES IN SCHEMA ${BULLMQ_SCHEMA}`,
          `EXECUTE ON ALL FUNCTIONS IN SCHEMA ${BULLMQ_SCHEMA}`,
        ]) {
          await db.query(`GRANT ${grant} TO ${role}`);
        }
        const url = new URL(db.url);
        url.username = role;
        const env = { PG_URL: url.toString(), QUEUE: 'limited', WORKER_NAME: 'pg-limited' };
        const healthPort = await freePort();
        const worker = await setup.app({
          ...env,
          ROLE: 'worker',
          JOBWATCH_HEALTH_PORT: String(healthPort),
        });
        const producer = await setup.app({ ...env, ROLE: 'producer', ADD_JOBS: '5' });
        expect((await producer.exited).code, producer.stderr).toBe(0);
        await waitFor(() => processed(worker).length === 5, { what: 'the jobs' });
        await new Promise((r) => setTimeout(r, 4 * INTERVAL)); // more beats and collections: still one line
        const lines = worker.stderr
          .split('\n')
          .filter((l) => l.includes('[jobwatch]') && !l.includes('health endpoints on'));
        expect(lines).toEqual([
          `[jobwatch] heartbeats are unavailable on PostgreSQL ${url.toString().replace(`${role}@`, '')} ${BULLMQ_SCHEMA}: the database user cannot create "${BULLMQ_SCHEMA}".${REGISTRY_TABLE} (permission denied for schema ${BULLMQ_SCHEMA}); create it once as the schema's owner (see docs/worker-health.md, "PostgreSQL"); jobs, tracing and metrics are unaffected`,
        ]);
        expect(worker.running).toBe(true);
        const report = (await (
          await fetch(`http://127.0.0.1:${healthPort}/health/queues`)
        ).json()) as {
          heartbeats?: string;
        };
        expect(report.heartbeats).toMatch(
          /^unavailable \(PostgreSQL .*: the database user cannot create/,
        );
        expect(await status(worker.metricsUrl, 'pg-limited')).toBe(1); // its own workers, from memory
        // ...and the counter BackgroundWorkerHeartbeatFailing watches keeps rising, beat after beat
        const refused = async () =>
          (await scrape(worker.metricsUrl)).samples.find(
            (s) =>
              s.name === 'bullmq_worker_heartbeat_errors_total' && s.labels.reason === 'noperm',
          )?.value ?? 0;
        const first = await refused();
        expect(first).toBeGreaterThan(0);
        await waitFor(async () => (await refused()) > first, { what: 'more refused beats' });
      } finally {
        // Roles are the cluster's: its grants go first, then the role, then the database.
        await db.query(`DROP OWNED BY ${role}`).catch(() => undefined); // none if it was never made
        await db.query(`DROP ROLE IF EXISTS ${role}`);
        await db.drop();
      }
    },
  );
});
