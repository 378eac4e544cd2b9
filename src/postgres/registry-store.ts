// The worker registry in PostgreSQL, for BullMQ 6's PostgreSQL backend: the
// same entries and liveness rule as the Redis registry, stored as one row per
// instance in the queue's schema.
//
//   {schema}.jobwatch_instances   (schema: BullMQ's, default `bullmq`)
//     id text primary key, name, queue, status, fields jsonb (the other fields),
//     started_at, last_beat, stopped_at, dead_at, expires_at timestamptz
//   index jobwatch_instances_dead_at (dead_at) where status <> 'stopped'
//   index jobwatch_instances_expires_at (expires_at)
//
// Every time is the database's clock (clock_timestamp()), never a host clock.
// dead_at = last beat + MISSED_BEATS_FOR_DEAD writer intervals, so "who is
// dead" is an index range; assess() still decides each verdict. Each statement
// is one autocommit statement on a table BullMQ never touches: no transaction
// or lock that BullMQ's own statements could wait on.
//
// Cost: one upsert per beat per instance. A registry read (per view
// collection) is a purge, the dead-candidates range and pages of PAGE_SIZE
// rows up to MAX_INSTANCES_PER_PREFIX: 3 statements up to 100 instances, one
// more per further 100. The table is created (if missing) once per store.

import {
  decodeFields,
  type InstanceFields,
  MAX_INSTANCES_PER_PREFIX,
  MISSED_BEATS_FOR_DEAD,
  type WrittenFields,
} from '../health/registry-keys.js';

/** The part of a `pg` Pool or Client the registry uses. */
export interface PgQueryable {
  query(text: string, params?: unknown[]): Promise<{ rows: Record<string, unknown>[] }>;
}

export const REGISTRY_TABLE = 'jobwatch_instances';

/** Most rows one read returns, so a read stays short whatever the fleet's size. */
export const PAGE_SIZE = 100;

/** Why the registry cannot be used here (e.g. no right to create its table); said in one line. */
export class RegistryUnavailableError extends Error {}

const COLUMNS = `id, name, queue, status, fields,
  (extract(epoch from started_at) * 1000)::float8 AS started_at,
  (extract(epoch from last_beat) * 1000)::float8 AS last_beat,
  coalesce((extract(epoch from stopped_at) * 1000)::float8, 0) AS stopped_at`;

const NOW_MS = '(extract(epoch from clock_timestamp()) * 1000)::float8';

export class PostgresRegistryStore {
  readonly table: string;
  private ready: Promise<void> | undefined;

  constructor(
    private readonly db: PgQueryable,
    readonly schema: string,
  ) {
    if (!/^[A-Za-z_][A-Za-z0-9_$]*$/.test(schema) || schema.length > 63) {
      throw new RegistryUnavailableError(
        `invalid PostgreSQL schema name ${JSON.stringify(schema)}`,
      );
    }
    this.table = `"${schema}".${REGISTRY_TABLE}`;
  }

  /** Creates the table and its indexes when missing (once per store; retried after a failure). */
  ensureTable(): Promise<void> {
    this.ready ??= this.createTable().catch((err) => {
      this.ready = undefined;
      throw err;
    });
    return this.ready;
  }

  /**
   * One upsert: the instance's fields, stamped with the database clock.
   * Returns that time and the entry's first start (both epoch ms).
   */
  async beat(
    fields: WrittenFields,
    retentionMs: number,
  ): Promise<{ now: number; startedAt: number }> {
    await this.ensureTable();
    const { id, name, queue, status, ...rest } = fields;
    const { rows } = await this.db.query(
      `INSERT INTO ${this.table} AS i
         (id, name, queue, status, fields, started_at, last_beat, stopped_at, dead_at, expires_at)
       VALUES ($1, $2, $3, $4, $5::jsonb, clock_timestamp(), clock_timestamp(),
         CASE WHEN $4 = 'stopped' THEN clock_timestamp() END,
         clock_timestamp() + $6 * interval '1 millisecond',
         clock_timestamp() + $7 * interval '1 millisecond')
       ON CONFLICT (id) DO UPDATE SET
         name = excluded.name, queue = excluded.queue, status = excluded.status,
         fields = excluded.fields, last_beat = excluded.last_beat,
         stopped_at = CASE WHEN excluded.status = 'stopped'
           THEN coalesce(i.stopped_at, excluded.last_beat) END,
         dead_at = excluded.dead_at, expires_at = excluded.expires_at
       RETURNING (extract(epoch from last_beat) * 1000)::float8 AS now,
         (extract(epoch from started_at) * 1000)::float8 AS started_at`,
      [
        id,
        name,
        queue,
        status,
        JSON.stringify(rest),
        MISSED_BEATS_FOR_DEAD * fields.intervalMs,
        retentionMs,
      ],
    );
    const row = rows[0]!;
    return { now: Number(row.now), startedAt: Number(row.started_at) };
  }

  /** The database clock, in epoch ms. */
  async now(): Promise<number> {
    const { rows } = await this.db.query(`SELECT ${NOW_MS} AS now`);
    return Number(rows[0]!.now);
  }

  /** Entries whose beats stopped (dead_at passed): an index range, oldest first, at most PAGE_SIZE. */
  async dead(): Promise<{ now: number; entries: InstanceFields[] }> {
    await this.ensureTable();
    // One row at least (the clock), with the candidates' columns when there are any.
    const { rows } = await this.db.query(
      `SELECT ${NOW_MS} AS now, d.* FROM (SELECT 1) AS one LEFT JOIN LATERAL (
         SELECT ${COLUMNS} FROM ${this.table}
          WHERE status <> 'stopped' AND dead_at < clock_timestamp()
          ORDER BY dead_at LIMIT ${PAGE_SIZE}) AS d ON true`,
    );
    return { now: Number(rows[0]!.now), entries: decodeRows(rows.filter((r) => r.id !== null)) };
  }

  /** One page of every entry, in id order after `afterId` ('' = from the start). */
  async page(afterId = ''): Promise<InstanceFields[]> {
    await this.ensureTable();
    const { rows } = await this.db.query(
      `SELECT ${COLUMNS} FROM ${this.table} WHERE id > $1 ORDER BY id LIMIT ${PAGE_SIZE}`,
      [afterId],
    );
    return decodeRows(rows);
  }

  /**
   * Every entry within retention, up to MAX_INSTANCES_PER_PREFIX, with the
   * dead ones always among them (the cap never hides a crash); purges first.
   */
  async read(): Promise<{ now: number; instances: InstanceFields[] }> {
    await this.purge();
    const { now, entries } = await this.dead();
    const byId = new Map(entries.map((e) => [e.id, e]));
    let after = '';
    while (byId.size < MAX_INSTANCES_PER_PREFIX) {
      const page = await this.page(after);
      for (const entry of page) if (byId.size < MAX_INSTANCES_PER_PREFIX) byId.set(entry.id, entry);
      if (page.length < PAGE_SIZE) break;
      after = page.at(-1)!.id;
    }
    return { now, instances: [...byId.values()] };
  }

  /** Deletes the entries past their retention; returns how many. */
  async purge(): Promise<number> {
    await this.ensureTable();
    const { rows } = await this.db.query(
      `WITH gone AS (DELETE FROM ${this.table} WHERE expires_at < clock_timestamp() RETURNING 1)
       SELECT count(*)::int AS n FROM gone`,
    );
    return Number(rows[0]!.n);
  }

  private async createTable(): Promise<void> {
    const { rows } = await this.db.query('SELECT to_regclass($1) IS NOT NULL AS present', [
      this.table,
    ]);
    if (rows[0]!.present) return;
    try {
      await this.db.query(
        `CREATE TABLE IF NOT EXISTS ${this.table} (
           id text PRIMARY KEY,
           name text NOT NULL,
           queue text NOT NULL,
           status text NOT NULL,
           fields jsonb NOT NULL,
           started_at timestamptz NOT NULL,
           last_beat timestamptz NOT NULL,
           stopped_at timestamptz,
           dead_at timestamptz NOT NULL,
           expires_at timestamptz NOT NULL);
         CREATE INDEX IF NOT EXISTS ${REGISTRY_TABLE}_dead_at
           ON ${this.table} (dead_at) WHERE status <> 'stopped';
         CREATE INDEX IF NOT EXISTS ${REGISTRY_TABLE}_expires_at ON ${this.table} (expires_at)`,
      );
    } catch (err) {
      const code = (err as { code?: string }).code;
      // Another process created it at the same moment.
      if (code === '23505' || code === '42P07') return;
      if (code === '42501') {
        throw new RegistryUnavailableError(
          `the database user cannot create ${this.table} (${(err as Error).message}); create it once as the schema's owner (see the README, "Worker health on PostgreSQL")`,
        );
      }
      throw err;
    }
  }
}

function decodeRows(rows: Record<string, unknown>[]): InstanceFields[] {
  const out: InstanceFields[] = [];
  for (const row of rows) {
    const hash: Record<string, string> = {};
    for (const [k, v] of Object.entries(row.fields as Record<string, unknown>)) hash[k] = String(v);
    Object.assign(hash, {
      id: String(row.id),
      name: String(row.name),
      queue: String(row.queue),
      status: String(row.status),
      startedAt: String(row.started_at),
      lastBeat: String(row.last_beat),
      stoppedAt: String(row.stopped_at),
    });
    const entry = decodeFields(hash);
    if (entry) out.push(entry);
  }
  return out;
}
