// The PostgreSQL worker registry on a real database: what one beat writes, how
// "who is dead" is found, retention, and a user without CREATE rights.
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { assess, type WrittenFields } from '../../src/health/registry-keys.js';
import {
  PostgresRegistryStore,
  REGISTRY_TABLE,
  RegistryUnavailableError,
} from '../../src/postgres/registry-store.js';
import { BULLMQ_SCHEMA, PostgresDatabase } from '../helpers/postgres.js';

let db: PostgresDatabase;
let pool: pg.Pool;
let store: PostgresRegistryStore;

beforeAll(async () => {
  db = await PostgresDatabase.create();
  pool = new pg.Pool({ connectionString: db.url, max: 2 });
  store = new PostgresRegistryStore(pool, BULLMQ_SCHEMA);
});
afterAll(async () => {
  await pool?.end();
  await db?.drop();
});

function fields(id: string, extra: Partial<WrittenFields> = {}): WrittenFields {
  return {
    id,
    kind: 'worker',
    name: 'mailer',
    queue: 'mail',
    host: 'test-host',
    pid: 4242,
    status: 'running',
    reason: '',
    intervalMs: 200,
    stuckJobMs: 0,
    processed: 7,
    failed: 1,
    stalled: 0,
    active: 2,
    oldestActiveMs: 30,
    sinceTaskBeatMs: 0,
    taskIntervalMs: 0,
    longestBlockMs: 0,
    jobwatchVersion: '0.1.0',
    bullmqVersion: '6.7.0',
    ...extra,
  };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('PostgresRegistryStore', () => {
  it('creates its table once, even when several processes start together', async () => {
    const stores = Array.from({ length: 4 }, () => new PostgresRegistryStore(pool, BULLMQ_SCHEMA));
    await Promise.all(stores.map((s) => s.ensureTable()));
    const { rows } = await db.query(
      `SELECT indexname FROM pg_indexes WHERE schemaname = $1 AND tablename = $2 ORDER BY 1`,
      [BULLMQ_SCHEMA, REGISTRY_TABLE],
    );
    expect(rows.map((r) => r.indexname)).toEqual([
      `${REGISTRY_TABLE}_dead_at`,
      `${REGISTRY_TABLE}_expires_at`,
      `${REGISTRY_TABLE}_pkey`,
    ]);
  });

  it('writes one row per instance per beat, stamped with the database clock, and reads it back whole', async () => {
    const before = await store.now();
    const first = await store.beat(fields('w-1'), 60_000);
    await sleep(20);
    const second = await store.beat(fields('w-1', { processed: 9 }), 60_000);
    const after = await store.now();
    expect(first.now).toBeGreaterThanOrEqual(before);
    expect(second.now).toBeGreaterThan(first.now);
    expect(second.now).toBeLessThanOrEqual(after);
    expect(second.startedAt).toBe(first.now);

    const [entry] = (await store.page('')).filter((e) => e.id === 'w-1');
    expect(entry).toEqual({
      ...fields('w-1', { processed: 9 }),
      startedAt: first.now,
      lastBeat: second.now,
      stoppedAt: 0,
    });
  });

  it('finds a silent instance through the dead_at index, and the liveness rule calls it dead', async () => {
    await store.beat(fields('silent', { intervalMs: 100 }), 60_000);
    await store.beat(fields('beating', { intervalMs: 100_000 }), 60_000);
    await store.beat(
      fields('left', { intervalMs: 100, status: 'stopped', reason: 'closed' }),
      60_000,
    );
    await sleep(400); // 4 of silent's intervals
    const { now, entries } = await store.dead();
    expect(entries.map((e) => e.id)).toEqual(['silent']);
    expect(assess(entries[0]!, now).state).toBe('dead');

    await pool.query(
      `INSERT INTO "${BULLMQ_SCHEMA}".${REGISTRY_TABLE}
         SELECT 'filler-' || g, 'n', 'q', 'running', '{}', now(), now(), NULL,
                now() + interval '1 hour', now() + interval '2 hours'
         FROM generate_series(1, 5000) g`,
    );
    await pool.query(`ANALYZE "${BULLMQ_SCHEMA}".${REGISTRY_TABLE}`);
    const plan = await pool.query(
      `EXPLAIN SELECT id FROM "${BULLMQ_SCHEMA}".${REGISTRY_TABLE}
        WHERE status <> 'stopped' AND dead_at < clock_timestamp() ORDER BY dead_at LIMIT 100`,
    );
    expect(plan.rows.map((r) => r['QUERY PLAN']).join('\n')).toContain(
      `Index Scan using ${REGISTRY_TABLE}_dead_at`,
    );
    await pool.query(`DELETE FROM "${BULLMQ_SCHEMA}".${REGISTRY_TABLE} WHERE id LIKE 'filler-%'`);
  });

  it('records when an instance stopped, and purges entries past their retention only', async () => {
    await store.beat(fields('short', { status: 'stopped', reason: 'done' }), 50);
    await store.beat(fields('long', { status: 'stopped', reason: 'done' }), 60_000);
    const stopped = (await store.page('')).find((e) => e.id === 'long')!;
    expect(stopped.stoppedAt).toBe(stopped.lastBeat);
    await sleep(100);
    expect(await store.purge()).toBe(1);
    const ids = (await store.page('')).map((e) => e.id);
    expect(ids).toContain('long');
    expect(ids).not.toContain('short');
  });

  it('reads the registry in bounded pages', async () => {
    for (let i = 0; i < 120; i++)
      await store.beat(fields(`p-${String(i).padStart(3, '0')}`), 60_000);
    const first = await store.page('');
    expect(first).toHaveLength(100);
    const rest = await store.page(first.at(-1)!.id);
    const all = [...first, ...rest].map((e) => e.id);
    expect(all.filter((id) => id.startsWith('p-'))).toHaveLength(120);
    expect(new Set(all).size).toBe(all.length);
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
        .beat(fields('x'), 60_000)
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

  it('costs one statement per beat, and a read of N instances 2 + ceil((N + 1) / 100) statements', async () => {
    let statements = 0;
    const counting = {
      query: (text: string, params?: unknown[]) => {
        statements++;
        return pool.query(text, params);
      },
    };
    const counted = new PostgresRegistryStore(counting, BULLMQ_SCHEMA);
    await counted.ensureTable(); // once per store: its existence check
    statements = 0;
    await counted.beat(fields('cost-1'), 60_000);
    expect(statements).toBe(1);
    statements = 0;
    const { instances } = await counted.read();
    const pages = Math.ceil((instances.length + 1) / 100);
    expect(instances.length).toBeGreaterThan(100); // the earlier tests' entries: several pages
    expect(statements).toBe(2 + pages); // purge, dead range, pages
  });
});
