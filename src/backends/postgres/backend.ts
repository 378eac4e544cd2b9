// The PostgreSQL backend (BullMQ 6's PostgreSQL backend): one registry per
// database and schema in use, reached through the `pg` Pool BullMQ opened for
// a Queue or Worker (pool.ts), plus jobwatch's own pool when
// JOBWATCH_POSTGRES_URL (or the CLI's --postgres) names a database.
// A registry whose tables cannot be created here (no CREATE right) says so
// once and is left alone: its beats are counted as refused, never retried.

import { isClosing } from '../../bullmq-objects.js';
import type { QueueUserLike } from '../../lifecycle.js';
import { logInfo } from '../../log.js';
import type { FailureReading } from '../../registry/failures.js';
import type { RegistryStore } from '../../registry/store.js';
import { withTimeout } from '../../timeout.js';
import { withoutCredentials } from '../../url.js';
import {
  type Backend,
  QUEUE_STATES,
  type QueueRead,
  type Registry,
  type StoreHandle,
} from '../backend.js';
import { readPostgresFailure } from './errors.js';
import {
  BorrowedPool,
  DEFAULT_SCHEMA,
  databaseIdentity,
  databaseScope,
  isOpen,
  openBackendAmong,
  openPostgres,
  type PgPool,
  postgresBackendOf,
} from './pool.js';
import { PostgresRegistryStore, RegistryUnavailableError } from './registry-store.js';

class PostgresRegistry implements Registry {
  readonly key: string;
  readonly storeName = 'PostgreSQL';
  unavailable: string | undefined;
  private readonly store: RegistryStore;

  constructor(
    readonly label: string,
    readonly scope: string,
    store: PostgresRegistryStore,
  ) {
    this.key = `postgres ${scope}`;
    this.store = this.guarded(store);
  }

  handle(): StoreHandle {
    return { store: this.store };
  }

  classify(err: unknown): FailureReading {
    return readPostgresFailure(err);
  }

  async readQueue(queue: string, users: Iterable<QueueUserLike>): Promise<QueueRead | undefined> {
    const backend = openBackendAmong(users);
    if (!backend) return undefined;
    const pool = backend.connection.pool;
    const tables = await bullmqTables(pool, backend.schema);
    const [counts, oldest] = await Promise.all([
      backend.getCounts([...QUEUE_STATES]),
      pool.query(oldestWaitingSql(tables), [queue]),
    ]);
    return { counts, oldestWaitingMs: Math.max(0, Number(oldest.rows[0]?.age ?? 0)) };
  }

  /** The store, noting (and saying once) when it turns out unable to work here at all. */
  private guarded(store: PostgresRegistryStore): RegistryStore {
    const noting =
      <A extends unknown[], R>(call: (...args: A) => Promise<R>) =>
      (...args: A) =>
        call(...args).catch((err: unknown) => {
          if (err instanceof RegistryUnavailableError && this.unavailable === undefined) {
            this.unavailable = err.message;
            logInfo(
              `heartbeats are unavailable on ${this.label}: ${err.message}; jobs, tracing and metrics are unaffected`,
            );
          }
          throw err;
        });
    return {
      writeBeat: noting(store.writeBeat.bind(store)),
      lease: noting(store.lease.bind(store)),
      releaseLease: noting(store.releaseLease.bind(store)),
      read: noting(store.read.bind(store)),
    };
  }
}

/** BullMQ's job and meta tables in `schema`, qualified. */
interface BullMQTables {
  job: string;
  meta: string;
}

const tablesOf = new WeakMap<object, Map<string, Promise<BullMQTables>>>();

/**
 * The names BullMQ's schema gives its tables: `job` and `meta` from 6.1,
 * `bullmq_job` and `bullmq_meta` in 6.0. Looked up once per pool and schema.
 */
function bullmqTables(pool: PgPool, schema: string): Promise<BullMQTables> {
  let bySchema = tablesOf.get(pool);
  if (!bySchema) {
    bySchema = new Map();
    tablesOf.set(pool, bySchema);
  }
  let tables = bySchema.get(schema);
  if (!tables) {
    const q = (name: string) => `"${schema}".${name}`;
    tables = pool
      .query('SELECT to_regclass($1) IS NOT NULL AS current', [q('job')])
      .then(({ rows }) =>
        rows[0]?.current
          ? { job: q('job'), meta: q('meta') }
          : { job: q('bullmq_job'), meta: q('bullmq_meta') },
      );
    tables.catch(() => bySchema!.delete(schema)); // asked again at the next read
    bySchema.set(schema, tables);
  }
  return tables;
}

/**
 * How long the job next in line (by BullMQ's own order: priority, then
 * sequence; an index range) has been ready: since it was added or its delay
 * ended, or since its last attempt began; 0 when none waits or the queue is
 * paused (its jobs then wait by the operator's choice).
 */
function oldestWaitingSql({ job, meta }: BullMQTables): string {
  return `SELECT coalesce((extract(epoch from clock_timestamp()) * 1000)::bigint
      - greatest(coalesce(process_at_ms, added_at_ms), coalesce(processed_at_ms, 0)), 0) AS age
    FROM ${job} WHERE queue = $1 AND state = 'waiting'
      AND NOT EXISTS (SELECT 1 FROM ${meta}
        WHERE queue = $1 AND field = 'paused' AND value = '1')
    ORDER BY priority, seq LIMIT 1`;
}

export interface PostgresSettings {
  /** jobwatch's own pool: a postgres:// URL, `?schema=` naming BullMQ's schema. */
  url: string | undefined;
  connectTimeoutMs: number;
}

export class PostgresBackend implements Backend {
  private readonly known = new Map<string, { pool: BorrowedPool; registry: PostgresRegistry }>();
  private readonly ownPool: { pool: PgPool; registry: PostgresRegistry } | undefined;
  private readonly users = new Map<string, Set<QueueUserLike>>();
  private readonly listeners: (() => void)[] = [];

  constructor(settings: PostgresSettings) {
    if (settings.url !== undefined)
      this.ownPool = ownRegistry(settings.url, settings.connectTimeoutMs);
  }

  owns(user: QueueUserLike): boolean {
    return postgresBackendOf(user) !== undefined;
  }

  async registryOf(user: QueueUserLike): Promise<Registry | undefined> {
    const backend = postgresBackendOf(user);
    if (!backend) return undefined;
    const identity = databaseIdentity(backend);
    let users = this.users.get(identity);
    if (!users) {
      users = new Set();
      this.users.set(identity, users);
    }
    // Apps that open a Queue per request must not make this set grow.
    for (const known of users) if (isClosing(known)) users.delete(known);
    users.add(user);
    const known = this.known.get(identity);
    if (known) {
      known.pool.adopt(backend);
      return known.registry;
    }
    const pool = new BorrowedPool(backend);
    const registry = new PostgresRegistry(
      `PostgreSQL ${identity}`,
      databaseScope(backend.connection.pool.options ?? {}, backend.schema),
      new PostgresRegistryStore(pool, backend.schema),
    );
    this.known.set(identity, { pool, registry });
    for (const listener of this.listeners) listener();
    return registry;
  }

  onRegistry(listener: () => void): void {
    this.listeners.push(listener);
  }

  registries(): Registry[] {
    return [
      ...(this.ownPool ? [this.ownPool.registry] : []),
      ...[...this.known.values()].map((k) => k.registry),
    ];
  }

  own(): Registry | undefined {
    return this.ownPool?.registry;
  }

  near(): undefined {
    return undefined; // JOBWATCH_QUEUES are Redis queues
  }

  /** `SELECT 1` through one open pool of the app's per database. */
  async readiness(timeoutMs: number): Promise<{ connections: number; errors: string[] }> {
    const errors: string[] = [];
    const open = [...this.users.entries()].flatMap(([identity, users]) => {
      const backend = openBackendAmong(users);
      return backend && isOpen(backend) ? [{ identity, backend }] : [];
    });
    await Promise.all(
      open.map(({ identity, backend }) =>
        withTimeout(backend.connection.pool.query('SELECT 1'), timeoutMs, 'PostgreSQL').catch(
          (err: unknown) => {
            errors.push(`PostgreSQL ${identity}: ${err instanceof Error ? err.message : err}`);
          },
        ),
      ),
    );
    return { connections: open.length, errors };
  }

  async close(): Promise<void> {
    await Promise.all([
      ...[...this.known.values()].map((k) => k.pool.close()),
      this.ownPool?.pool.end().catch(() => undefined),
    ]);
  }
}

/** The registry at a postgres:// URL (`?schema=` names BullMQ's schema), through a pool of jobwatch's own. */
function ownRegistry(
  url: string,
  connectTimeoutMs: number,
): { pool: PgPool; registry: PostgresRegistry } {
  const parsed = new URL(url);
  const schema = parsed.searchParams.get('schema') ?? DEFAULT_SCHEMA;
  parsed.searchParams.delete('schema');
  const pool = openPostgres(parsed.toString(), connectTimeoutMs);
  const scope = databaseScope({ connectionString: parsed.toString() }, schema);
  const registry = new PostgresRegistry(
    `PostgreSQL ${withoutCredentials(parsed.toString())} ${schema}`,
    scope,
    new PostgresRegistryStore(pool, schema),
  );
  return { pool, registry };
}
