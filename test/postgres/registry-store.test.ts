// The PostgreSQL worker registry on a real database: what one beat writes, how
// "who is dead" is found, the read order and its bound, retention, the lease,
// a user without CREATE rights, and what each costs in statements.
import pg from 'pg';
import { afterAll, beforeAll, beforeEach, expect, it } from 'vitest';
import {
  LEASE_TABLE,
  type PgQueryable,
  PostgresRegistryStore,
  REGISTRY_TABLE,
  RegistryUnavailableError,
} from '../../src/backends/postgres/registry-store.js';
import type { WrittenFields } from '../../src/registry/entry.js';
import { assess } from '../../src/registry/liveness.js';
import { BULLMQ_SCHEMA, describeOnPostgres, PostgresDatabase } from '../helpers/postgres.js';
import { writtenFields } from '../helpers/registry-fields.js';

let db: PostgresDatabase;
let pool: pg.Pool;
let store: PostgresRegistryStore;
const table = `"${BULLMQ_SCHEMA}".${REGISTRY_TABLE}`;

beforeAll(async () => {
  db = await PostgresDatabase.create();
  pool = db.pool(2);
  store = new PostgresRegistryStore(pool, BULLMQ_SCHEMA);
});
beforeEach(async () => {
  await store.ensureTable();
  await pool.query(`TRUNCATE ${table}, "${BULLMQ_SCHEMA}".${LEASE_TABLE}`);
});
afterAll(async () => {
  await pool?.end();
  await db?.drop();
});

function fields(id: string, extra: Partial<WrittenFields> = {}): WrittenFields {
  return writtenFields(id, { host: 'test-host', intervalMs: 200, ...extra });
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describeOnPostgres('PostgresRegistryStore', () => {
  it('creates its tables once, even when several processes start together', async () => {
    const fresh = await PostgresDatabase.create();
    const freshPool = fresh.pool(4);
    try {
      const stores = Array.from(
        { length: 4 },
        () => new PostgresRegistryStore(freshPool, BULLMQ_SCHEMA),
      );
      await Promise.all(stores.map((s) => s.ensureTable()));
      const { rows } = await freshPool.query(
        `SELECT indexname FROM pg_indexes WHERE schemaname = $1 AND tablename LIKE 'jobwatch_%' ORDER BY 1`,
        [BULLMQ_SCHEMA],
      );
      expect(rows.map((r) => r.indexname)).toEqual([
        `${REGISTRY_TABLE}_dead_at`,
        `${REGISTRY_TABLE}_expires_at`,
        `${REGISTRY_TABLE}_pkey`,
        `${REGISTRY_TABLE}_stopped_at`,
        `${LEASE_TABLE}_pkey`,
      ]);
    } finally {
      await freshPool.end();
      await fresh.drop();
    }
  });

  it('writes one row per instance per beat, stamped with the database clock, and reads it back whole', async () => {
    const before = (
      await pool.query('SELECT (extract(epoch from clock_timestamp()) * 1000)::float8 AS t')
    ).rows[0].t;
    const first = await store.writeBeat(fields('w-1'), 60_000, false);
    await sleep(20);
    const second = await store.writeBeat(fields('w-1', { processed: 9 }), 60_000, false);
    const read = await store.read();
    expect(first).toBeGreaterThanOrEqual(before);
    expect(second).toBeGreaterThan(first);
    expect(read.now).toBeGreaterThanOrEqual(second);
    expect(read.dropped).toBe(0);
    expect(read.instances).toEqual([
      { ...fields('w-1', { processed: 9 }), startedAt: first, lastBeat: second, stoppedAt: 0 },
    ]);
  });

  it('reads a silent instance first, through the dead_at index, and the liveness rule calls it dead', async () => {
    await store.writeBeat(fields('beating', { intervalMs: 100_000 }), 60_000, false);
    await store.writeBeat(fields('silent', { intervalMs: 100 }), 60_000, false);
    await store.writeBeat(fields('left', { intervalMs: 100, reason: 'closed' }), 60_000, true);
    await sleep(400); // 4 of silent's intervals
    const { now, instances } = await store.read();
    expect(instances.map((e) => e.id)).toEqual(['silent', 'beating', 'left']);
    expect(instances.map((e) => assess(e, now).state)).toEqual(['dead', 'running', 'stopped']);

    await pool.query(
      `INSERT INTO ${table}
         SELECT 'filler-' || g, 'n', 'q', 'running', '{}', now(), now(), NULL,
                now() + interval '1 hour', now() + interval '2 hours'
         FROM generate_series(1, 5000) g`,
    );
    await pool.query(`ANALYZE ${table}`);
    // The read's page query (its bound: the last row of the previous page).
    const plan = await pool.query(
      `EXPLAIN SELECT * FROM ${table} WHERE status <> 'stopped'
        AND (dead_at, id) > ($1::timestamptz, $2) ORDER BY dead_at, id LIMIT 100`,
      [new Date().toISOString(), ''],
    );
    const text = plan.rows.map((r) => r['QUERY PLAN']).join('\n');
    expect(text).toContain(`Index Scan using ${REGISTRY_TABLE}_dead_at`);
    expect(text).toMatch(/Index Cond: \(ROW\(dead_at, id\) > ROW\(/);
  });

  it('records when an instance stopped, and purges entries past their retention only', async () => {
    await store.writeBeat(fields('short', { reason: 'done' }), 50, true);
    await store.writeBeat(fields('long', { reason: 'done' }), 60_000, true);
    const stopped = (await store.read()).instances.find((e) => e.id === 'long')!;
    expect(stopped.stoppedAt).toBe(stopped.lastBeat);
    await sleep(100);
    await store.read(); // purges
    expect((await store.read()).instances.map((e) => e.id)).toEqual(['long']);
  });

  it('pages through the registry: every running entry, then the newest stopped, each once', async () => {
    for (let i = 0; i < 130; i++) {
      await store.writeBeat(fields(`run-${i}`), 60_000, false);
      await store.writeBeat(fields(`stop-${i}`), 60_000, true);
    }
    const { instances } = await store.read();
    const ids = instances.map((e) => e.id);
    expect(ids).toHaveLength(260);
    expect(new Set(ids).size).toBe(260);
    expect(ids.slice(0, 130).every((id) => id.startsWith('run-'))).toBe(true);
    expect(ids.slice(130, 133)).toEqual(['stop-129', 'stop-128', 'stop-127']);
  });

  it('holds one fleet-view lease per schema: renewed by its holder, taken when it lapses, yielded to a monitor', async () => {
    expect(await store.lease('a', 300, false)).toBe(true);
    expect(await store.lease('b', 300, false)).toBe(false);
    expect(await store.lease('a', 300, false)).toBe(true);
    await sleep(400);
    expect(await store.lease('b', 300, false)).toBe(true);
    expect(await store.lease('monitor:m', 300, true)).toBe(true);
    expect(await store.lease('b', 300, true)).toBe(false); // a monitor's claim is never taken over
    await store.releaseLease('monitor:m');
    expect(await store.lease('b', 300, false)).toBe(true);
  });

  it('says in one line why it cannot work for a user without CREATE rights', async () => {
    const role = `jobwatch_nocreate_${process.pid}`;
    const schema = `nocreate_${process.pid}`;
    await db.query(`CREATE SCHEMA ${schema}`);
    await db.query(`CREATE ROLE ${role} LOGIN`);
    await db.query(`GRANT USAGE ON SCHEMA ${schema} TO ${role}`);
    const url = new URL(db.url);
    url.username = role;
    const limited = new pg.Client({ connectionString: url.toString() });
    await limited.connect();
    try {
      const err = await new PostgresRegistryStore(limited, schema)
        .writeBeat(fields('x'), 60_000, false)
        .catch((e: unknown) => e);
      expect(err).toBeInstanceOf(RegistryUnavailableError);
      expect((err as Error).message).toMatch(
        new RegExp(
          `^the database user cannot create "${schema}".${REGISTRY_TABLE} \\(permission denied for schema ${schema}\\)`,
        ),
      );
      expect((err as Error).message).not.toContain('\n');
    } finally {
      await limited.end();
      await db.query(`DROP SCHEMA ${schema} CASCADE`);
      await db.query(`DROP ROLE ${role}`);
    }
  });

  it('costs one statement per beat or lease renewal, and 1 + ceil((running + 1) / 100) + ceil((stopped + 1) / 100) per read', async () => {
    let statements = 0;
    const counting: PgQueryable = {
      query: (text, params) => {
        statements++;
        return pool.query(text, params);
      },
    };
    const counted = new PostgresRegistryStore(counting, BULLMQ_SCHEMA);
    await counted.ensureTable(); // once per store: its existence check
    for (let i = 0; i < 150; i++) await store.writeBeat(fields(`r-${i}`), 60_000, false);
    for (let i = 0; i < 20; i++) await store.writeBeat(fields(`s-${i}`), 60_000, true);
    statements = 0;
    await counted.writeBeat(fields('cost-1'), 60_000, false);
    expect(statements).toBe(1);
    statements = 0;
    await counted.lease('holder', 1000, false);
    expect(statements).toBe(1);
    statements = 0;
    const { instances } = await counted.read();
    expect(instances).toHaveLength(171);
    expect(statements).toBe(1 + 2 + 1); // running: 151 = pages of 100 and 51; stopped: 20; the purge
  });
});
