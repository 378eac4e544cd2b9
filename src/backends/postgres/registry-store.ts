// The registry store on PostgreSQL, for BullMQ 6's PostgreSQL backend (the
// contract: src/registry/store.ts): the same entries, liveness rule, lease and
// read order as on Redis, stored in two tables of the queue's schema:
//
//   {schema}.jobwatch_instances   one row per instance: id text primary key,
//     name, queue, status, fields jsonb (the other fields), started_at,
//     last_beat, stopped_at, dead_at (= last_beat + MISSED_BEATS_FOR_DEAD
//     intervals), expires_at (= last_beat + retention), timestamptz
//     index jobwatch_instances_dead_at (dead_at, id) where status <> 'stopped'
//     index jobwatch_instances_stopped_at (stopped_at, id) where status = 'stopped'
//     index jobwatch_instances_expires_at (expires_at)
//   {schema}.jobwatch_lease       the fleet view's holder: name, holder, expires_at
//
// Every time is the database's clock (clock_timestamp()), never a host clock.
// Running instances are read by dead_at, so the dead ones come first, as an
// index range; assess() still decides each verdict. Each statement is one
// autocommit statement on jobwatch's own tables, which BullMQ never touches:
// no transaction or lock that BullMQ's own statements could wait on.
//
// Cost: one upsert per beat per instance; one upsert per lease renewal. A read
// (the elected view, and the CLI) is pages of PAGE_SIZE rows and a purge:
// 3 statements up to 99 running and 99 stopped instances, one more per
// further 100 of either. The tables are created (if missing) once per store.

import { decodeFields, type InstanceFields, type WrittenFields } from '../../registry/entry.js';
import { MISSED_BEATS_FOR_DEAD } from '../../registry/liveness.js';
import {
  MAX_INSTANCES_PER_REGISTRY,
  PAGE_SIZE,
  type RegistryRead,
  type RegistryStore,
} from '../../registry/store.js';

/** The part of a `pg` Pool or Client the registry uses. */
export interface PgQueryable {
  query(text: string, params?: unknown[]): Promise<{ rows: Record<string, unknown>[] }>;
}

export const REGISTRY_TABLE = 'jobwatch_instances';
export const LEASE_TABLE = 'jobwatch_lease';

/** Why the registry cannot be used here (e.g. no right to create its table); said in one line. */
export class RegistryUnavailableError extends Error {}

const COLUMNS = `id, name, queue, status, fields,
  (extract(epoch from started_at) * 1000)::float8 AS started_at,
  (extract(epoch from last_beat) * 1000)::float8 AS last_beat,
  coalesce((extract(epoch from stopped_at) * 1000)::float8, 0) AS stopped_at`;

const NOW_MS = '(extract(epoch from clock_timestamp()) * 1000)::float8';

export class PostgresRegistryStore implements RegistryStore {
  readonly table: string;
  private readonly leaseTable: string;
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
    this.leaseTable = `"${schema}".${LEASE_TABLE}`;
  }

  /** Creates the table and its indexes when missing (once per store; retried after a failure). */
  ensureTable(): Promise<void> {
    this.ready ??= this.createTable().catch((err) => {
      this.ready = undefined;
      throw err;
    });
    return this.ready;
  }

  /** One upsert: the instance's fields, stamped with the database clock; resolves to that time (ms). */
  async writeBeat(fields: WrittenFields, retentionMs: number, stopped: boolean): Promise<number> {
    await this.ensureTable();
    const { id, name, queue, ...rest } = fields;
    const status = stopped ? 'stopped' : fields.status;
    const { rows } = await this.db.query(
      // One clock reading for every column: a first beat's started_at is its last_beat.
      `WITH t AS (SELECT clock_timestamp() AS now)
       INSERT INTO ${this.table} AS i
         (id, name, queue, status, fields, started_at, last_beat, stopped_at, dead_at, expires_at)
       SELECT $1, $2, $3, $4, $5::jsonb, t.now, t.now,
         CASE WHEN $4 = 'stopped' THEN t.now END,
         t.now + $6 * interval '1 millisecond',
         t.now + $7 * interval '1 millisecond'
       FROM t
       ON CONFLICT (id) DO UPDATE SET
         name = excluded.name, queue = excluded.queue, status = excluded.status,
         fields = excluded.fields, last_beat = excluded.last_beat,
         stopped_at = CASE WHEN excluded.status = 'stopped'
           THEN coalesce(i.stopped_at, excluded.last_beat) END,
         dead_at = excluded.dead_at, expires_at = excluded.expires_at
       RETURNING (extract(epoch from last_beat) * 1000)::float8 AS now`,
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
    return Number(rows[0]!.now);
  }

  /**
   * Takes or renews the fleet-view lease for `holder` for `ttlMs`; false while
   * another holder has it. `takeOver`: a monitor's claim, which a process's yields to.
   */
  async lease(holder: string, ttlMs: number, takeOver: boolean): Promise<boolean> {
    await this.ensureTable();
    const { rows } = await this.db.query(
      `INSERT INTO ${this.leaseTable} AS l (name, holder, expires_at)
       VALUES ('fleet', $1, clock_timestamp() + $2 * interval '1 millisecond')
       ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, expires_at = excluded.expires_at
        WHERE l.holder = excluded.holder OR l.expires_at < clock_timestamp()
           OR ($3 AND l.holder NOT LIKE 'monitor:%')
       RETURNING holder`,
      [holder, ttlMs, takeOver],
    );
    return rows.length === 1;
  }

  /** Gives the lease up at once if `holder` has it (a clean stop), so another takes over. */
  async releaseLease(holder: string): Promise<void> {
    await this.ensureTable();
    await this.db.query(`DELETE FROM ${this.leaseTable} WHERE name = 'fleet' AND holder = $1`, [
      holder,
    ]);
  }

  /**
   * The whole registry in bounded pages, after a purge by retention that
   * also reads the clock: running, hung and dead by dead_at (the dead
   * first), then the newest stopped, up to MAX_INSTANCES_PER_REGISTRY. Every
   * field is read, whatever the depth asked for: jsonb is one column.
   */
  async read(): Promise<RegistryRead> {
    await this.ensureTable();
    // Expired rows go first, so that no read returns one; this also reads the clock.
    const { rows } = await this.db.query(
      `WITH gone AS (DELETE FROM ${this.table} WHERE expires_at < clock_timestamp() RETURNING 1)
       SELECT ${NOW_MS} AS now FROM (SELECT count(*) FROM gone) AS purged`,
    );
    const malformed: string[] = [];
    const live = await this.readIndex('live', MAX_INSTANCES_PER_REGISTRY, malformed);
    const stopped = await this.readIndex(
      'stopped',
      MAX_INSTANCES_PER_REGISTRY - live.length,
      malformed,
    );
    // An instance that beats during the read moves on in the dead_at order and may come twice.
    const instances = [...new Map([...live, ...stopped].map((e) => [e.id, e])).values()];
    let dropped = 0;
    if (instances.length >= MAX_INSTANCES_PER_REGISTRY) {
      const count = await this.db.query(
        `SELECT count(*)::int AS n FROM ${this.table} WHERE status = 'stopped'`,
      );
      dropped = Math.max(0, Number(count.rows[0]!.n) - stopped.length);
    }
    return { now: Number(rows[0]!.now), instances, dropped, malformed };
  }

  /** Keyset pages of one partial index: live rows by dead_at, stopped rows newest first. */
  private async readIndex(
    which: 'live' | 'stopped',
    limit: number,
    malformed: string[],
  ): Promise<InstanceFields[]> {
    const [where, key, order, cmp] =
      which === 'live'
        ? ["status <> 'stopped'", 'dead_at', 'ASC', '>']
        : ["status = 'stopped'", 'stopped_at', 'DESC', '<'];
    const out: InstanceFields[] = [];
    let after: [unknown, string] | undefined;
    while (out.length < limit) {
      const count = Math.min(PAGE_SIZE, limit - out.length);
      const { rows } = await this.db.query(
        `SELECT ${COLUMNS}, ${key}::text AS sort_key FROM ${this.table}
          WHERE ${where} ${after ? `AND (${key}, id) ${cmp} ($1::timestamptz, $2)` : ''}
          ORDER BY ${key} ${order}, id ${order} LIMIT ${count}`,
        after ?? [],
      );
      out.push(...decodeRows(rows, malformed));
      if (rows.length < count) break;
      const last = rows.at(-1)!;
      after = [last.sort_key, String(last.id)];
    }
    return out;
  }

  private async createTable(): Promise<void> {
    const { rows } = await this.db.query(
      'SELECT to_regclass($1) IS NOT NULL AND to_regclass($2) IS NOT NULL AS present',
      [this.table, this.leaseTable],
    );
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
           ON ${this.table} (dead_at, id) WHERE status <> 'stopped';
         CREATE INDEX IF NOT EXISTS ${REGISTRY_TABLE}_stopped_at
           ON ${this.table} (stopped_at, id) WHERE status = 'stopped';
         CREATE INDEX IF NOT EXISTS ${REGISTRY_TABLE}_expires_at ON ${this.table} (expires_at);
         CREATE TABLE IF NOT EXISTS ${this.leaseTable} (
           name text PRIMARY KEY,
           holder text NOT NULL,
           expires_at timestamptz NOT NULL)`,
      );
    } catch (err) {
      const code = (err as { code?: string }).code;
      // Another process created it at the same moment.
      if (code === '23505' || code === '42P07') return;
      if (code === '42501') {
        throw new RegistryUnavailableError(
          `the database user cannot create ${this.table} (${(err as Error).message}); create it once as the schema's owner (see docs/worker-health.md, "PostgreSQL")`,
        );
      }
      throw err;
    }
  }
}

/** The rows that are jobwatch entries; the ids of those that are not go to `malformed`. */
function decodeRows(rows: Record<string, unknown>[], malformed: string[]): InstanceFields[] {
  const out: InstanceFields[] = [];
  for (const row of rows) {
    const fields = row.fields;
    if (typeof fields !== 'object' || fields === null || Array.isArray(fields)) {
      malformed.push(String(row.id));
      continue;
    }
    const hash: Record<string, string> = {};
    for (const [k, v] of Object.entries(fields)) hash[k] = String(v);
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
    else malformed.push(String(row.id));
  }
  return out;
}
