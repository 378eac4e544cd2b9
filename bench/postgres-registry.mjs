// `node bench/postgres-registry.mjs` (after `npm run build`): what the
// PostgreSQL worker registry costs as the fleet grows. For registries of 100,
// 1,000 and 5,000 instances (60 % running, 40 % stopped leftovers of a rolling
// deploy) in a fresh database of the machine's PostgreSQL (127.0.0.1:5432, or
// JOBWATCH_TEST_POSTGRES_URL), through the real store (dist/), it measures:
//   - statements per beat, per lease renewal and per registry read,
//   - the wall time of a beat and of a read (median and p99; loopback, so
//     this is the database's time plus one round trip per statement),
//   - the size of the table and its indexes.
// Writes the table to bench/results/postgres-registry.md.
import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const pg = require('pg');
const { runMigrations } = require('bullmq');
const { PostgresRegistryStore } = require('../dist/backends/postgres/registry-store.js');

const ADMIN_URL =
  process.env.JOBWATCH_TEST_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
const SIZES = [100, 1000, 5000];
const BEATS = 500;
const READS = 20;
const RETENTION_MS = 15 * 60_000;

function fields(id, stopped) {
  return {
    id,
    kind: 'worker',
    name: `worker-${id.length % 23}`,
    queue: 'orders',
    host: 'bench-host',
    pid: 4242,
    status: stopped ? 'stopped' : 'running',
    reason: stopped ? 'stopped cleanly (worker.close())' : '',
    intervalMs: 5000,
    stuckJobMs: 0,
    processed: 123456,
    failed: 12,
    stalled: 0,
    active: 3,
    oldestActiveMs: 1200,
    sinceTaskBeatMs: 0,
    taskIntervalMs: 0,
    longestBlockMs: 0,
    jobwatchVersion: '0.1.0',
    bullmqVersion: '6.7.0',
  };
}

const quantile = (xs, q) =>
  [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(q * xs.length))];
const ms = (x) => x.toFixed(2);

async function timed(fn) {
  const t = performance.now();
  await fn();
  return performance.now() - t;
}

async function scenario(pool, size) {
  let statements = 0;
  const counting = {
    query: (text, params) => {
      statements++;
      return pool.query(text, params);
    },
  };
  const store = new PostgresRegistryStore(counting, 'bullmq');
  await store.ensureTable();
  await pool.query('TRUNCATE bullmq.jobwatch_instances');
  const running = Math.round(size * 0.6);
  for (let i = 0; i < size; i++)
    await store.writeBeat(fields(`i-${i}`, i >= running), RETENTION_MS, i >= running);
  await pool.query('ANALYZE bullmq.jobwatch_instances');

  statements = 0;
  const beats = [];
  for (let i = 0; i < BEATS; i++) {
    beats.push(
      await timed(() => store.writeBeat(fields(`i-${i % running}`, false), RETENTION_MS, false)),
    );
  }
  const perBeat = statements / BEATS;
  statements = 0;
  await store.lease('bench', 10_000, false);
  const perLease = statements;
  statements = 0;
  const reads = [];
  for (let i = 0; i < READS; i++) reads.push(await timed(() => store.read()));
  const perRead = statements / READS;
  const { rows } = await pool.query(
    `SELECT pg_size_pretty(pg_total_relation_size('bullmq.jobwatch_instances')) AS size`,
  );
  return {
    size,
    perBeat,
    perLease,
    perRead,
    beatP50: quantile(beats, 0.5),
    beatP99: quantile(beats, 0.99),
    readP50: quantile(reads, 0.5),
    readP99: quantile(reads, 0.99),
    tableSize: rows[0].size,
  };
}

async function main() {
  const name = `jobwatch_bench_${randomBytes(4).toString('hex')}`;
  const admin = new pg.Client({ connectionString: ADMIN_URL });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${name}`);
  const url = new URL(ADMIN_URL);
  url.pathname = `/${name}`;
  const pool = new pg.Pool({ connectionString: url.toString(), max: 2 });
  try {
    const client = await pool.connect();
    await runMigrations(client, 'bullmq');
    client.release();
    const results = [];
    for (const size of SIZES) results.push(await scenario(pool, size));
    const version = (await pool.query('SHOW server_version')).rows[0].server_version;
    const table = [
      `PostgreSQL ${version}, loopback; ${BEATS} beats and ${READS} reads per size; 60 % running, 40 % stopped.`,
      '',
      '| instances | statements per beat | per lease renewal | per read | beat p50 / p99 (ms) | read p50 / p99 (ms) | table + indexes |',
      '|---|---|---|---|---|---|---|',
      ...results.map(
        (r) =>
          `| ${r.size} | ${r.perBeat} | ${r.perLease} | ${r.perRead} | ${ms(r.beatP50)} / ${ms(r.beatP99)} | ${ms(r.readP50)} / ${ms(r.readP99)} | ${r.tableSize} |`,
      ),
      '',
    ].join('\n');
    process.stdout.write(table);
    writeFileSync(new URL('./results/postgres-registry.md', import.meta.url), table);
  } finally {
    await pool.end();
    await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
    await admin.end();
  }
}

await main();
