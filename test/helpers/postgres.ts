// Every test file that needs PostgreSQL gets its own database, with BullMQ's
// schema migrated, and drops it after: runs never see each other's rows. The
// databases live on the test run's own throwaway cluster (test/global-setup.ts;
// never the machine's server), or on JOBWATCH_TEST_POSTGRES_URL when set.
// Fault tests that stop the server start a cluster of their own
// (postgres-cluster.ts).
import { randomBytes } from 'node:crypto';
import { runMigrations } from 'bullmq';
import pg from 'pg';
import { describe, inject } from 'vitest';
import { BULLMQ_MAJOR } from './bullmq-majors.js';

export { PostgresCluster } from './postgres-cluster.js';

/** The server and maintenance database the per-file databases are created from. */
const ADMIN_URL = process.env.JOBWATCH_TEST_POSTGRES_URL ?? inject('postgresAdminUrl') ?? '';

/** BullMQ's PostgreSQL backend came with BullMQ 6: on 5 (JOBWATCH_TEST_BULLMQ=5) these suites skip. */
export const describeOnPostgres = describe.skipIf(BULLMQ_MAJOR < 6);

/** SQLSTATE of a session that DROP DATABASE … WITH (FORCE) terminated. */
const ADMIN_SHUTDOWN = '57P01';

/** BullMQ's default schema, where its tables (and jobwatch's registry) live. */
export const BULLMQ_SCHEMA = 'bullmq';

export class PostgresDatabase {
  private constructor(
    readonly name: string,
    readonly url: string,
  ) {}

  private adminUrl = ADMIN_URL;

  /** Creates a fresh database (on the machine's server, or `adminUrl`'s) and runs BullMQ's migrations in it. */
  static async create(adminUrl = ADMIN_URL): Promise<PostgresDatabase> {
    const name = `jobwatch_${process.pid}_${randomBytes(4).toString('hex')}`;
    await withClient(adminUrl, (c) => c.query(`CREATE DATABASE ${name}`));
    const url = new URL(adminUrl);
    url.pathname = `/${name}`;
    const db = new PostgresDatabase(name, url.toString());
    db.adminUrl = adminUrl;
    await withClient(db.url, (c) => runMigrations(c, BULLMQ_SCHEMA));
    return db;
  }

  /** BullMQ PostgreSQL backend connection options for this database. */
  get connection() {
    return { connectionString: this.url, schema: BULLMQ_SCHEMA };
  }

  /**
   * A pg Pool on this database. pg's Pool.end() resolves before its
   * connections have closed, so drop() may still terminate one of them; the
   * pool then emits that termination (admin_shutdown) as an error, which is
   * expected here and ignored. Any other error of the pool fails the test.
   */
  pool(max: number): pg.Pool {
    const pool = new pg.Pool({ connectionString: this.url, max });
    pool.on('error', (err) => {
      if ((err as { code?: unknown }).code !== ADMIN_SHUTDOWN) throw err;
    });
    return pool;
  }

  /** Runs one statement on a short-lived connection of its own. */
  query<R extends pg.QueryResultRow = pg.QueryResultRow>(
    sql: string,
    params: unknown[] = [],
  ): Promise<pg.QueryResult<R>> {
    return withClient(this.url, (c) => c.query<R>(sql, params));
  }

  /** Drops the database, ending whatever sessions are still in it. */
  async drop(): Promise<void> {
    await withClient(this.adminUrl, (c) =>
      c.query(`DROP DATABASE IF EXISTS ${this.name} WITH (FORCE)`),
    );
  }
}

async function withClient<T>(url: string, work: (c: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return await work(client);
  } finally {
    await client.end();
  }
}
