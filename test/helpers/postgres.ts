// Every test file that needs PostgreSQL gets its own database on the machine's
// server (127.0.0.1:5432, trust auth; scripts/run makes sure one answers), with
// BullMQ's schema migrated, and drops it after: runs never see each other's rows.
// Fault tests that stop the server start a throwaway cluster of their own
// (PostgresCluster: initdb in a temp dir, on a free port).
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chownSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { runMigrations } from 'bullmq';
import pg from 'pg';
import { describe } from 'vitest';
import { BULLMQ_MAJOR } from './bullmq-majors.js';
import { freePort } from './ports.js';

/** The server and maintenance database the per-file databases are created from. */
const ADMIN_URL =
  process.env.JOBWATCH_TEST_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/test';

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

/** A PostgreSQL cluster of this test file's own, which it may stop and restart. */
export class PostgresCluster {
  private constructor(
    readonly port: number,
    private readonly dir: string,
  ) {}

  static async start(): Promise<PostgresCluster> {
    const dir = mkdtempSync(join(tmpdir(), 'jobwatch-pg-'));
    // The server refuses to run as root: as root, the cluster belongs to postgres.
    if (userInfo().uid === 0) {
      chownSync(dir, Number(execFileSync('id', ['-u', 'postgres'], { encoding: 'utf8' })), -1);
    }
    serverProgram(
      'initdb',
      '-D',
      join(dir, 'data'),
      '-U',
      'postgres',
      '--auth=trust',
      '-E',
      'UTF8',
    );
    const cluster = new PostgresCluster(await freePort(), dir);
    cluster.resume();
    return cluster;
  }

  get adminUrl(): string {
    return `postgres://postgres@127.0.0.1:${this.port}/postgres`;
  }

  /** Starts (or restarts, on the same port and data) the server; returns once it accepts connections. */
  resume(): void {
    const options = `-p ${this.port} -c listen_addresses=127.0.0.1 -k ${this.dir}`;
    const data = join(this.dir, 'data');
    serverProgram('pg_ctl', '-D', data, '-l', join(this.dir, 'log'), '-o', options, '-w', 'start');
  }

  /** Stops the server (fast shutdown: sessions are ended, committed data kept). */
  stop(): void {
    serverProgram('pg_ctl', '-D', join(this.dir, 'data'), '-m', 'fast', '-w', 'stop');
  }

  close(): void {
    try {
      this.stop();
    } catch {
      // already stopped
    }
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/** Runs one of PostgreSQL's server programs (newest installed), as user postgres when this is root. */
function serverProgram(program: string, ...args: string[]): void {
  const version = readdirSync('/usr/lib/postgresql').sort((a, b) => Number(b) - Number(a))[0]!;
  const bin = join('/usr/lib/postgresql', version, 'bin', program);
  const [file, argv] =
    userInfo().uid === 0 ? ['runuser', ['-u', 'postgres', '--', bin, ...args]] : [bin, args];
  execFileSync(file, argv, { stdio: 'ignore' });
}
