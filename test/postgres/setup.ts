// For test files that run preloaded BullMQ 6 apps on the PostgreSQL backend as
// real processes: the file's own database, an OTLP receiver, and the app
// fixture (fixtures/app.cjs) started with either preload flag.
import { createPostgresBackend, Queue } from 'bullmq';
import { afterAll, beforeAll } from 'vitest';
import { LEASE_TABLE } from '../../src/backends/postgres/registry-store.js';
import { type NodeProcess, spawnNode } from '../helpers/node-process.js';
import { freePort, waitFor } from '../helpers/ports.js';
import { BULLMQ_SCHEMA, PostgresCluster, PostgresDatabase } from '../helpers/postgres.js';
import { type Receiver, useReceiver } from '../helpers/preloaded.js';

export interface PostgresAppSetup {
  db: PostgresDatabase;
  /** With `ownCluster`: the cluster `db` lives on, which the test may stop and restart. */
  cluster: PostgresCluster | undefined;
  receiver: Receiver;
  /** Starts the fixture app preloaded with `--require` (default) or `--import`; its /metrics port is `metricsPort`. */
  app(
    env: Record<string, string>,
    preload?: '--require' | '--import',
  ): Promise<NodeProcess & { metricsUrl: string }>;
  /** Queue.getJobCounts() of `queue`, through BullMQ's PostgreSQL backend in this process. */
  jobCounts(queue: string): Promise<Record<string, number>>;
  /** Starts the fixture app as a view (a process holding a Queue) and waits until it holds the fleet-view lease. */
  view(env: Record<string, string>): Promise<NodeProcess & { metricsUrl: string }>;
}

export function usePostgresApps({ ownCluster = false } = {}): PostgresAppSetup {
  const setup: PostgresAppSetup = {
    db: undefined!, // set in beforeAll
    cluster: undefined,
    receiver: undefined!,
    async app(env, preload = '--require') {
      const port = await freePort();
      const proc = spawnNode([preload, 'jobwatch/register', 'test/postgres/fixtures/app.cjs'], {
        PG_URL: setup.db.url,
        OTEL_EXPORTER_OTLP_ENDPOINT: setup.receiver.url,
        OTEL_BSP_SCHEDULE_DELAY: '100',
        OTEL_METRIC_EXPORT_INTERVAL: '500',
        OTEL_EXPORTER_PROMETHEUS_PORT: String(port),
        JOBWATCH_HEARTBEAT_INTERVAL_MS: '500',
        ...env,
      });
      return Object.assign(proc, { metricsUrl: `http://127.0.0.1:${port}/metrics` });
    },
    async jobCounts(name) {
      const queue = new Queue(name, { connection: setup.db.connection }, createPostgresBackend);
      try {
        return await queue.getJobCounts();
      } finally {
        await queue.close();
      }
    },
    async view(env) {
      const proc = await setup.app({ ROLE: 'queue', ADD_JOBS: '0', ...env });
      await waitFor(
        async () => {
          const { rows } = await setup.db
            .query(`SELECT holder FROM ${BULLMQ_SCHEMA}.${LEASE_TABLE}`)
            .catch(() => ({ rows: [] as { holder: string }[] }));
          return String(rows[0]?.holder ?? '').includes(`:${proc.pid}:`);
        },
        { what: 'the view holding the fleet-view lease' },
      );
      return proc;
    },
  };
  beforeAll(async () => {
    if (ownCluster) setup.cluster = await PostgresCluster.start();
    setup.db = await PostgresDatabase.create(setup.cluster?.adminUrl);
  });
  afterAll(async () => {
    await setup.db?.drop();
    setup.cluster?.close();
  });
  useReceiver(setup);
  return setup;
}
