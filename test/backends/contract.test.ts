// The backend contract (src/backends/backend.ts, src/registry/store.ts): every
// store jobwatch supports passes the same suite, through the same door the
// heartbeat writer, the fleet view and queue depth use (Backends.registryOf on
// a real BullMQ Queue): Redis, a Redis Cluster, and PostgreSQL (BullMQ 6).
// A new backend adds a store below and passes these.
import { randomUUID } from 'node:crypto';
import {
  createNodeRedisClient,
  createPostgresBackend,
  createValkeyGlideClient,
  type JobType,
  Queue,
} from 'bullmq';
import type { Cluster, Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { QUEUE_STATES, type Registry } from '../../src/backends/backend.js';
import { REGISTRY_TABLE } from '../../src/backends/postgres/registry-store.js';
import { beatsKey, instanceKey } from '../../src/backends/redis/keys.js';
import { Backends } from '../../src/backends/router.js';
import { isUnreachable } from '../../src/registry/failures.js';
import { PAGE_SIZE, type RegistryStore } from '../../src/registry/store.js';
import { BULLMQ_MAJOR } from '../helpers/bullmq-majors.js';
import { BULLMQ_SCHEMA, PostgresDatabase } from '../helpers/postgres.js';
import { RedisServer } from '../helpers/redis.js';
import { RedisCluster } from '../helpers/redis-cluster.js';
import { writtenFields } from '../helpers/registry-fields.js';

interface Store {
  /** A BullMQ Queue of this store (closed by close()). */
  queue(name: string): Queue;
  /** Writes entries jobwatch never writes (a wrong type, an impossible value) into the registry: their ids. */
  corrupt(): Promise<string[]>;
  close(): Promise<void>;
}

/** On Redis: an instance key that is no hash, and a live member scored +inf. */
async function corruptRedis(client: Redis | Cluster, prefix: string): Promise<string[]> {
  const [wrongType, infinite] = [`malformed-${randomUUID()}`, `malformed-${randomUUID()}`];
  await client.zadd(beatsKey(prefix), Date.now(), wrongType);
  await client.set(instanceKey(prefix, wrongType), 'not a hash');
  await client.zadd(beatsKey(prefix), '+inf', infinite);
  await client.hset(instanceKey(prefix, infinite), fieldsAsHash(infinite));
  return [wrongType, infinite];
}

function fieldsAsHash(id: string): Record<string, string> {
  return Object.fromEntries(Object.entries(fields(id)).map(([k, v]) => [k, String(v)]));
}

const REDIS_SCOPE = /^redis:\/\/127\.0\.0\.1:\d+\/0#bull$/;

/** Label, start, whether it runs on this BullMQ, and the scope (jobwatch_registry) it must get. */
const STORES: [string, () => Promise<Store>, boolean, RegExp][] = [
  [
    'Redis',
    async () => {
      const redis = await RedisServer.start();
      const admin = redis.client();
      return storeOf(
        (name) => new Queue(name, { connection: redis.connection }),
        () => corruptRedis(admin, 'bull'),
        async () => {
          admin.disconnect();
          await redis.close();
        },
      );
    },
    true,
    REDIS_SCOPE,
  ],
  [
    'a Redis Cluster',
    async () => {
      const cluster = await RedisCluster.start();
      const client = cluster.client();
      return storeOf(
        (name) => new Queue(name, { connection: client, prefix: '{bull}' }),
        () => corruptRedis(client, '{bull}'),
        async () => {
          await client.quit();
          await cluster.close();
        },
      );
    },
    true,
    /^redis-cluster:\/\/(127\.0\.0\.1:\d+,?)+#\{bull\}$/,
  ],
  // BullMQ 6's other Redis clients, through its own adapters.
  [
    'node-redis',
    async () => {
      const redis = await RedisServer.start();
      const { createClient } = await import('redis');
      const connection = createNodeRedisClient(createClient({ url: redis.url }));
      return redisClientStore(redis, connection);
    },
    BULLMQ_MAJOR >= 6,
    REDIS_SCOPE,
  ],
  [
    'Valkey GLIDE',
    async () => {
      const redis = await RedisServer.start();
      const { GlideClient } = await import('@valkey/valkey-glide');
      const connection = createValkeyGlideClient(
        GlideClient.createClient({ addresses: [{ host: '127.0.0.1', port: redis.port }] }),
      );
      return redisClientStore(redis, connection);
    },
    BULLMQ_MAJOR >= 6,
    REDIS_SCOPE,
  ],
  [
    'PostgreSQL',
    async () => {
      const db = await PostgresDatabase.create();
      return storeOf(
        (name) =>
          new Queue(name, { connection: db.connection }, createPostgresBackend) as unknown as Queue,
        async () => {
          // fields that are no JSON object, and an object without the beat interval
          const [notObject, partial] = [`malformed-${randomUUID()}`, `malformed-${randomUUID()}`];
          const insert = `INSERT INTO "${BULLMQ_SCHEMA}".${REGISTRY_TABLE}
              (id, name, queue, status, fields, started_at, last_beat, dead_at, expires_at)
            VALUES ($1, 'x', 'q', $2, $3::jsonb, now(), now(), now() + interval '1 minute', now() + interval '1 hour')`;
          await db.query(insert, [notObject, 'running', '"a string"']);
          await db.query(insert, [partial, 'running', '{"host": "h"}']);
          return [notObject, partial];
        },
        () => db.drop(),
      );
    },
    BULLMQ_MAJOR >= 6,
    /^postgresql:\/\/[^/]+\/jobwatch_\w+#bullmq$/,
  ],
];

/** A store on `redis` whose Queues all share `connection`, a BullMQ 6 client adapter. */
function redisClientStore(redis: RedisServer, connection: { quit(): Promise<unknown> }): Store {
  const admin = redis.client();
  return storeOf(
    (name) => new Queue(name, { connection: connection as never }),
    () => corruptRedis(admin, 'bull'),
    async () => {
      await connection.quit();
      admin.disconnect();
      await redis.close();
    },
  );
}

function storeOf(
  make: (name: string) => Queue,
  corrupt: () => Promise<string[]>,
  close: () => Promise<void>,
): Store {
  const queues: Queue[] = [];
  return {
    corrupt,
    queue(name) {
      const queue = make(name);
      queue.on('error', () => undefined);
      queues.push(queue);
      return queue;
    },
    async close() {
      await Promise.all(queues.map((q) => q.close()));
      await close();
    },
  };
}

const fields = writtenFields;

const RETENTION = 60_000;

describe.each(STORES)('the backend contract on %s', (_label, start, runs, scope) => {
  let store: Store;
  let backends: Backends;
  let registry: Registry;
  let queue: Queue;

  beforeAll(async () => {
    if (!runs) return;
    store = await start();
    backends = new Backends({
      redisUrl: undefined,
      redisUrlSetting: 'JOBWATCH_REDIS_URL',
      prefix: 'bull',
      postgresUrl: undefined,
      connectTimeoutMs: 2000,
      stuckAfterMs: 15_000,
    });
    queue = store.queue(`contract-${randomUUID().slice(0, 8)}`);
    await queue.waitUntilReady();
    registry = (await backends.registryOf(queue as never))!;
  }, 60_000);

  afterAll(async () => {
    await backends?.close();
    await store?.close();
  });

  const storeOfRegistry = (): RegistryStore => registry.handle()!.store;

  it.runIf(runs)('gives the BullMQ objects of one store and namespace one registry', async () => {
    expect(registry).toBeDefined();
    const other = store.queue(`contract-${randomUUID().slice(0, 8)}`);
    await other.waitUntilReady();
    expect((await backends.registryOf(other as never))?.key).toBe(registry.key);
    expect(backends.registries().map((r) => r.key)).toContain(registry.key);
  });

  it.runIf(runs)(
    'names its registry by where it lives: the same scope for every client kind',
    () => {
      expect(registry.scope).toMatch(scope);
    },
  );

  it.runIf(runs)('stamps beats with the store clock and reads back every field', async () => {
    const s = storeOfRegistry();
    const id = randomUUID();
    const first = await s.writeBeat(fields(id), RETENTION, false);
    expect(Math.abs(first - Date.now())).toBeLessThan(60_000); // the store's clock, in ms
    await new Promise((r) => setTimeout(r, 20));
    const second = await s.writeBeat(fields(id, { processed: 8 }), RETENTION, false);
    expect(second).toBeGreaterThan(first);
    const read = await s.read('all');
    const entry = read.instances.find((i) => i.id === id)!;
    expect(entry).toMatchObject({
      ...fields(id, { processed: 8 }),
      startedAt: first,
      lastBeat: second,
    });
    expect(read.now).toBeGreaterThanOrEqual(second);
    const verdicts = await s.read('verdicts');
    expect(verdicts.instances.find((i) => i.id === id)).toMatchObject({
      id,
      name: 'mailer',
      status: 'running',
      lastBeat: second,
      intervalMs: 5000,
    });
  });

  it.runIf(runs)(
    'keeps a stopped instance apart, after the live ones, with its stop time',
    async () => {
      const s = storeOfRegistry();
      const [live, stopped] = [randomUUID(), randomUUID()];
      await s.writeBeat(fields(live), RETENTION, false);
      await s.writeBeat(fields(stopped), RETENTION, false);
      const at = await s.writeBeat(fields(stopped, { reason: 'deploy' }), RETENTION, true);
      const { instances } = await s.read('all');
      const ids = instances.map((i) => i.id);
      expect(ids.indexOf(live)).toBeLessThan(ids.indexOf(stopped));
      expect(instances.find((i) => i.id === stopped)).toMatchObject({
        status: 'stopped',
        stoppedAt: at,
        reason: 'deploy',
      });
    },
  );

  it.runIf(runs)(
    `reads a registry of several pages (${PAGE_SIZE} per call) whole, each entry once`,
    async () => {
      const s = storeOfRegistry();
      const ids: string[] = Array.from({ length: 2 * PAGE_SIZE + 30 }, () => randomUUID());
      for (const id of ids) await s.writeBeat(fields(id), RETENTION, false);
      const read = await s.read('verdicts');
      const seen = read.instances.map((i) => i.id).filter((id) => ids.includes(id));
      expect(seen.sort()).toEqual([...ids].sort());
    },
  );

  it.runIf(runs)(
    'skips malformed entries, naming each, and still reads every good one',
    async () => {
      const s = storeOfRegistry();
      const good = randomUUID();
      await s.writeBeat(fields(good), RETENTION, false);
      const bad = await store.corrupt();
      for (const depth of ['verdicts', 'all'] as const) {
        const read = await s.read(depth);
        expect(read.instances.map((i) => i.id)).toContain(good);
        expect(read.instances.map((i) => i.id)).not.toEqual(expect.arrayContaining([bad[0]]));
        expect(read.instances.map((i) => i.id)).not.toEqual(expect.arrayContaining([bad[1]]));
        expect([...read.malformed].sort(), depth).toEqual([...bad].sort());
      }
    },
  );

  it.runIf(runs)('purges entries past their retention', async () => {
    const s = storeOfRegistry();
    const gone = randomUUID();
    await s.writeBeat(fields(gone), 200, false);
    await new Promise((r) => setTimeout(r, 500));
    await s.writeBeat(fields(randomUUID()), RETENTION, false); // a later beat (or read) purges
    expect((await s.read('all')).instances.map((i) => i.id)).not.toContain(gone);
  });

  it.runIf(runs)(
    'leases the fleet view to one holder at a time; a monitor takes it over',
    async () => {
      const s = storeOfRegistry();
      expect(await s.lease('app-a', 10_000, false)).toBe(true);
      expect(await s.lease('app-b', 10_000, false)).toBe(false);
      expect(await s.lease('app-a', 10_000, false)).toBe(true); // renewed
      expect(await s.lease('monitor:m', 10_000, true)).toBe(true);
      expect(await s.lease('app-a', 10_000, false)).toBe(false);
      expect(await s.lease('monitor:n', 10_000, true)).toBe(false); // monitors do not fight
      await s.releaseLease('app-a'); // not its holder: nothing happens
      expect(await s.lease('app-b', 10_000, false)).toBe(false);
      await s.releaseLease('monitor:m');
      expect(await s.lease('app-b', 300, false)).toBe(true);
      await new Promise((r) => setTimeout(r, 500));
      expect(await s.lease('app-c', 10_000, false)).toBe(true); // app-b's lapsed
      await s.releaseLease('app-c');
    },
  );

  it.runIf(runs)(
    "counts a queue's jobs by state as Queue.getJobCounts() does, and ages the next in line",
    async () => {
      const empty = await registry.readQueue(queue.name, [queue as never]);
      expect(empty?.oldestWaitingMs).toBe(0);
      await queue.add('now', {});
      await queue.add('now', {});
      await queue.add('later', {}, { delay: 60_000 });
      await queue.add('urgent', {}, { priority: 1 });
      await new Promise((r) => setTimeout(r, 300));
      const read = await registry.readQueue(queue.name, [queue as never]);
      const expected = await queue.getJobCounts(...(QUEUE_STATES as unknown as JobType[]));
      expect(Object.fromEntries(QUEUE_STATES.map((s, i) => [s, read?.counts[i]]))).toEqual(
        expected,
      );
      expect(expected.waiting + expected.prioritized).toBe(3);
      // The oldest ready job was added over 300 ms ago; the delayed one is not ready.
      expect(read!.oldestWaitingMs).toBeGreaterThanOrEqual(250);
      expect(read!.oldestWaitingMs).toBeLessThan(30_000);
    },
  );

  it.runIf(runs)('calls a store out of reach unreachable, not a refusal', () => {
    for (const message of [
      'connect ECONNREFUSED 127.0.0.1:1',
      'reading the worker registry timed out after 10 ms',
    ]) {
      expect(isUnreachable(registry.classify(new Error(message)).reason), message).toBe(true);
    }
  });
});
