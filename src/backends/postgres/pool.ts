// How jobwatch reaches PostgreSQL on BullMQ 6's PostgreSQL backend without
// settings of its own: through the `pg` Pool BullMQ opened for a Queue or
// Worker (`getBackend().connection.pool`, in the backend's schema), or, once
// that pool has ended (after worker.close()), a one-connection pool of its own
// built from the same options, by the same `pg`. jobwatch's pools never keep a
// process alive (allowExitOnIdle) and hold no session state.

import { createRequire } from 'node:module';
import { isClosing } from '../../bullmq-objects.js';
import type { QueueUserLike } from '../../lifecycle.js';
import { describeError, warnRateLimited } from '../../log.js';
import type { PgQueryable } from './registry-store.js';

/** The part of a `pg` Pool jobwatch uses. */
export interface PgPool extends PgQueryable {
  options?: Record<string, unknown>;
  ending?: boolean;
  ended?: boolean;
  end(): Promise<void>;
  on(event: 'error', listener: (err: unknown) => void): unknown;
}

/** The part of BullMQ 6's PostgresQueueBackend jobwatch uses. */
export interface PostgresBackendLike {
  schema: string;
  connection: { pool: PgPool; isClosing?: unknown };
  getCounts(types: string[]): Promise<number[]>;
}

/** The PostgreSQL backend of a BullMQ 6 object, or undefined for any other backend. */
export function postgresBackendOf(user: QueueUserLike): PostgresBackendLike | undefined {
  const getBackend = (user as { getBackend?: () => unknown }).getBackend;
  if (typeof getBackend !== 'function') return undefined;
  const backend = getBackend.call(user) as Partial<PostgresBackendLike> | undefined;
  const pool = backend?.connection?.pool;
  if (typeof backend?.schema !== 'string' || typeof pool?.query !== 'function') return undefined;
  return backend as PostgresBackendLike;
}

/** BullMQ's PostgreSQL schema when none is named. */
export const DEFAULT_SCHEMA = 'bullmq';

/** `host:port/database schema`: the objects sharing it share one registry and one set of queues. */
export function databaseIdentity(backend: PostgresBackendLike): string {
  const o = backend.connection.pool.options ?? {};
  const where =
    typeof o.connectionString === 'string'
      ? o.connectionString.replace(/\/\/[^@/]*@/, '//') // no credentials in a key or a log line
      : `${o.host ?? 'localhost'}:${o.port ?? 5432}/${o.database ?? ''}`;
  return `${where} ${backend.schema}`;
}

/**
 * `postgresql://host:port/database#schema`, however the connection was given
 * (a connection string or options): the registry's scope, the same for every
 * process that reaches this database, never with credentials.
 */
export function databaseScope(options: Record<string, unknown>, schema: string): string {
  let { host, port, database } = options as { host?: string; port?: number; database?: string };
  if (typeof options.connectionString === 'string') {
    try {
      const url = new URL(options.connectionString);
      host = url.hostname || host;
      port = Number(url.port) || port;
      database = decodeURIComponent(url.pathname.slice(1)) || database;
    } catch {
      // not a URL (a libpq key=value string): the options' own fields, or the defaults
    }
  }
  const where = host === undefined || host === 'localhost' ? '127.0.0.1' : host;
  return `postgresql://${where}:${port ?? 5432}/${database ?? ''}#${schema}`;
}

/** False once BullMQ closed the object's connection (queries then never settle). */
export function isOpen(backend: PostgresBackendLike): boolean {
  const pool = backend.connection.pool;
  return !backend.connection.isClosing && !pool.ending && !pool.ended;
}

/**
 * BullMQ's pool while it is open, else jobwatch's own one-connection pool from
 * the same options: a closing worker's "stopped" still lands.
 */
export class BorrowedPool implements PgQueryable {
  private own: PgPool | undefined;

  constructor(private backend: PostgresBackendLike) {}

  /** A newer BullMQ object on the same database: its pool is used from now on. */
  adopt(backend: PostgresBackendLike): void {
    if (isOpen(backend)) this.backend = backend;
  }

  query(text: string, params?: unknown[]): Promise<{ rows: Record<string, unknown>[] }> {
    if (isOpen(this.backend)) return this.backend.connection.pool.query(text, params);
    this.own ??= this.openOwn();
    return this.own.query(text, params);
  }

  async close(): Promise<void> {
    const own = this.own;
    this.own = undefined;
    await own?.end().catch(() => undefined);
  }

  private openOwn(): PgPool {
    const bullmqPool = this.backend.connection.pool;
    const Pool = bullmqPool.constructor as new (options: Record<string, unknown>) => PgPool;
    return guardedPool(
      new Pool({ ...bullmqPool.options, max: 1, idleTimeoutMillis: 1000, allowExitOnIdle: true }),
      'PostgreSQL (worker registry)',
    );
  }
}

function guardedPool(pool: PgPool, label: string): PgPool {
  // An idle connection that drops is reported, never thrown at the app.
  pool.on('error', (err) =>
    warnRateLimited(`postgres:${label}`, `${label}: ${describeError(err)}`),
  );
  return pool;
}

/**
 * A pool of jobwatch's own from a postgres:// URL (JOBWATCH_POSTGRES_URL, the
 * CLI), with `pg` loaded from the app's BullMQ installation (BullMQ's peer),
 * so jobwatch adds no PostgreSQL driver of its own.
 */
export function openPostgres(url: string, connectTimeoutMs: number): PgPool {
  const pg = createRequire(require.resolve('bullmq'))('pg') as {
    Pool: new (options: Record<string, unknown>) => PgPool;
  };
  return guardedPool(
    new pg.Pool({
      connectionString: url,
      max: 1,
      connectionTimeoutMillis: connectTimeoutMs,
      idleTimeoutMillis: 1000,
      allowExitOnIdle: true,
      application_name: 'jobwatch',
    }),
    'JOBWATCH_POSTGRES_URL',
  );
}

/** An open PostgreSQL backend among a queue's BullMQ objects (closed ones never answer). */
export function openBackendAmong(users: Iterable<QueueUserLike>): PostgresBackendLike | undefined {
  for (const user of users) {
    if (isClosing(user)) continue;
    const backend = postgresBackendOf(user);
    if (backend && isOpen(backend)) return backend;
  }
  return undefined;
}
