// `jobwatch check | status | monitor --postgres` as a user runs them (node
// dist/cli/main.js), against preloaded BullMQ 6 workers on PostgreSQL.
import { expect, it } from 'vitest';
import { spawnNode } from '../helpers/node-process.js';
import { freePort, waitFor } from '../helpers/ports.js';
import { BULLMQ_SCHEMA, describeOnPostgres } from '../helpers/postgres.js';
import { find, scrape } from '../metrics/scrape.js';
import { usePostgresApps } from './setup.js';

const INTERVAL = 500;
const setup = usePostgresApps();

async function cli(args: string[], env: Record<string, string> = {}) {
  const proc = spawnNode(['dist/cli/main.js', ...args], {
    JOBWATCH_REDIS_URL: '',
    JOBWATCH_POSTGRES_URL: '',
    ...env,
  });
  const { code } = await proc.exited;
  return { code, stdout: proc.stdout, stderr: proc.stderr };
}

describeOnPostgres('jobwatch CLI on PostgreSQL', () => {
  it('check exits 0 for a live worker and 1 once it is dead; status lists it', async () => {
    const worker = await setup.app({ ROLE: 'worker', QUEUE: 'cli-q', WORKER_NAME: 'pg-cli' });
    const args = ['--postgres', setup.db.url, '--worker', 'pg-cli'];
    const healthy = await waitFor(async () => {
      const r = await cli(['check', ...args]);
      return r.code === 0 ? r : undefined;
    });
    expect(JSON.parse(healthy.stdout)).toMatchObject({
      status: 'healthy',
      workers: { 'pg-cli': { alive: true, queue: 'cli-q', pid: worker.pid } },
    });
    const status = await cli(['status', '--json'], { JOBWATCH_POSTGRES_URL: setup.db.url });
    expect(status.code, status.stderr).toBe(0);
    expect(JSON.parse(status.stdout).workers['pg-cli']).toMatchObject({ alive: true });

    worker.child.kill('SIGKILL');
    await new Promise((r) => setTimeout(r, 3 * INTERVAL + 100));
    const unhealthy = await cli(['check', ...args]);
    expect(unhealthy.code).toBe(1);
    expect(JSON.parse(unhealthy.stdout).workers['pg-cli']).toMatchObject({ state: 'dead' });
    expect(unhealthy.stderr).toBe('');
  });

  it('reads the schema named by ?schema= (default bullmq)', async () => {
    await setup.app({ ROLE: 'worker', QUEUE: 'schema-q', WORKER_NAME: 'pg-schema' });
    await setup.db.query('CREATE SCHEMA IF NOT EXISTS elsewhere');
    const check = (url: string) => cli(['check', '--postgres', url, '--worker', 'pg-schema']);
    await waitFor(async () => (await check(`${setup.db.url}?schema=${BULLMQ_SCHEMA}`)).code === 0, {
      what: 'the worker found in bullmq',
    });
    const elsewhere = await check(`${setup.db.url}?schema=elsewhere`);
    // An empty schema is no verdict: unknown (3), naming the database and schema it read.
    expect(elsewhere.code).toBe(3);
    expect(JSON.parse(elsewhere.stdout)).toMatchObject({ status: 'unknown' });
    expect(JSON.parse(elsewhere.stdout).reason).toMatch(
      /^no worker in postgresql:\/\/127\.0\.0\.1:\d+\/\w+#elsewhere/,
    );
  });

  it('monitor --postgres exports worker_status of the workers in the database', async () => {
    await setup.app({ ROLE: 'worker', QUEUE: 'mon-q', WORKER_NAME: 'pg-monitored' });
    const port = await freePort();
    const monitor = spawnNode(
      ['dist/cli/main.js', 'monitor', '--postgres', setup.db.url, '--port', String(port)],
      {
        JOBWATCH_REDIS_URL: '',
      },
    );
    await waitFor(
      async () =>
        find(await scrape(`http://127.0.0.1:${port}/metrics`), 'worker_status', {
          bullmq_worker_name: 'pg-monitored',
        })[0]?.value === 1,
      { what: 'worker_status 1 on the monitor' },
    );
    expect(monitor.stderr).toContain(
      'monitor: reading the worker registry of the PostgreSQL database',
    );
  });
});
