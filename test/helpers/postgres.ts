// Every test file that needs PostgreSQL gets its own database on the machine's
// server (127.0.0.1:5432, trust auth; scripts/run makes sure one answers), with
// BullMQ's schema migrated, and drops it after: runs never see each other's rows.
import { randomBytes } from 'node:crypto';
import { runMigrations } from 'bullmq';
import pg from 'pg';

/** The server and maintenance database the per-file databases are created from. */
const ADMIN_URL =
  process.env.JOBWATCH_TEST_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/test';

/** BullMQ's default schema, where its tables (and jobwatch's registry) live. */
export const BULLMQ_SCHEMA = 'bullmq';

export class PostgresDatabase {
  private constructor(
    readonly name: string,
    readonly url: string,
  ) {}

  /** Creates a fresh database and runs BullMQ's migrations in it. */
  static async create(): Promise<PostgresDatabase> {
    const name = `jobwatch_${process.pid}_${randomBytes(4).toString('hex')}`;
    await withClient(ADMIN_URL, (c) => c.query(`CREATE DATABASE ${name}`));
    const url = new URL(ADMIN_URL);
    url.pathname = `/${name}`;
    const db = new PostgresDatabase(name, url.toString());
    await withClient(db.url, (c) => runMigrations(c, BULLMQ_SCHEMA));
    return db;
  }

  /** BullMQ PostgreSQL backend connection options for this database. */
  get connection() {
    return { connectionString: this.url, schema: BULLMQ_SCHEMA };
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
    await withClient(ADMIN_URL, (c) =>
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
