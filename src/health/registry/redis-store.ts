// The registry in Redis: Lua scripts, so that one beat is ONE command
// (EVALSHA) and every timestamp comes from the Redis server's TIME inside the
// script. Every key of a prefix shares one hash tag (keys.ts), so each
// script works on Redis Cluster whatever the queue names. Scripts are
// registered with the client's own defineCommand, which works on every client
// BullMQ supports (ioredis for 5.x; ioredis, node-redis and Bun adapters for 6.x).
//
// Cost: a beat is O(log n) (two sorted-set updates and a purge of expired
// index members). The lease is one O(1) call per interval per process. A read
// (the elected fleet view only, and the CLI) is one call per PAGE_SIZE
// instances, each reading only the fields it needs.

import { type RedisScriptClient, runScript, type Script } from '../../redis/access.js';
import {
  beatsKey,
  decodeFields,
  encodeFields,
  type InstanceFields,
  instanceKey,
  instanceKeyPrefix,
  leaseKey,
  MAX_INSTANCES_PER_PREFIX,
  PAGE_SIZE,
  stoppedKey,
  type WrittenFields,
} from './keys.js';
import type { ReadDepth, RegistryRead, RegistryStore } from './store.js';

const NOW_MS = `local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)`;

// KEYS: instance hash, beats, stopped. ARGV: id, retention ms, '1' to mark stopped, field/value pairs.
const BEAT: Script = {
  name: 'jobwatch_beat_v2',
  keys: 3,
  lua: `${NOW_MS}
local retention = tonumber(ARGV[2])
redis.call('HSETNX', KEYS[1], 'startedAt', now)
local into, out = KEYS[2], KEYS[3]
if ARGV[3] == '1' then
  redis.call('HSET', KEYS[1], 'stoppedAt', now)
  into, out = KEYS[3], KEYS[2]
end
redis.call('HSET', KEYS[1], 'lastBeat', now, unpack(ARGV, 4))
redis.call('PEXPIRE', KEYS[1], retention)
redis.call('ZREM', out, ARGV[1])
redis.call('ZADD', into, now, ARGV[1])
for _, key in ipairs({KEYS[2], KEYS[3]}) do
  redis.call('ZREMRANGEBYSCORE', key, '-inf', now - retention)
  if redis.call('PTTL', key) < retention then redis.call('PEXPIRE', key, retention) end
end
return now`,
};

// KEYS: lease. ARGV: holder, ttl ms, '1' = a monitor's claim. Returns 1 when held by ARGV[1].
const LEASE: Script = {
  name: 'jobwatch_lease_v1',
  keys: 1,
  lua: `local holder = redis.call('GET', KEYS[1])
if holder == ARGV[1] then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return 1
end
if holder and (ARGV[3] ~= '1' or string.sub(holder, 1, 8) == 'monitor:') then return 0 end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
return 1`,
};

const RELEASE: Script = {
  name: 'jobwatch_release_v1',
  keys: 1,
  lua: `if redis.call('GET', KEYS[1]) == ARGV[1] then redis.call('DEL', KEYS[1]) end
return 0`,
};

// One page of an index, from a score on (ties past the first `skip`), oldest
// first, or newest first with ARGV[5] = 'rev'. KEYS: index. ARGV: instance key
// prefix, from score, skip, count, order, 'all' or the fields to read.
// Returns {now, id, score, fields, id, score, fields, …}.
const PAGE: Script = {
  name: 'jobwatch_page_v1',
  keys: 1,
  lua: `${NOW_MS}
local page
if ARGV[5] == 'rev' then
  page = redis.call('ZREVRANGEBYSCORE', KEYS[1], ARGV[2], '-inf', 'WITHSCORES', 'LIMIT', ARGV[3], ARGV[4])
else
  page = redis.call('ZRANGEBYSCORE', KEYS[1], ARGV[2], '+inf', 'WITHSCORES', 'LIMIT', ARGV[3], ARGV[4])
end
local out = {now}
for i = 1, #page, 2 do
  local key = ARGV[1] .. page[i]
  local values
  if ARGV[6] == 'all' then values = redis.call('HGETALL', key) else values = redis.call('HMGET', key, unpack(ARGV, 6)) end
  out[#out + 1] = page[i]
  out[#out + 1] = page[i + 1]
  out[#out + 1] = values
end
return out`,
};

const COUNT: Script = {
  name: 'jobwatch_count_v1',
  keys: 1,
  lua: `return redis.call('ZCARD', KEYS[1])`,
};

/** What verdicts, gauges, the per-name roll-up and /health/queues need (lastBeat comes from the index score). */
const VERDICT_FIELDS = [
  'id',
  'host',
  'pid',
  'startedAt',
  'processed',
  'failed',
  'kind',
  'name',
  'queue',
  'status',
  'reason',
  'intervalMs',
  'stuckJobMs',
  'active',
  'oldestActiveMs',
  'sinceTaskBeatMs',
  'taskIntervalMs',
  'stoppedAt',
];

export function redisStore(client: RedisScriptClient, prefix: string): RegistryStore {
  return {
    writeBeat: async (fields: WrittenFields, retentionMs: number, stopped: boolean) => {
      const args = [
        instanceKey(prefix, fields.id),
        beatsKey(prefix),
        stoppedKey(prefix),
        fields.id,
        String(retentionMs),
        stopped ? '1' : '0',
        ...encodeFields(fields),
      ];
      return Number(await runScript(client, BEAT, args));
    },
    lease: async (holder, ttlMs, takeOver) =>
      Number(
        await runScript(client, LEASE, [
          leaseKey(prefix),
          holder,
          String(ttlMs),
          takeOver ? '1' : '0',
        ]),
      ) === 1,
    releaseLease: async (holder) => {
      await runScript(client, RELEASE, [leaseKey(prefix), holder]);
    },
    read: (depth) => readAll(client, prefix, depth),
  };
}

async function readAll(
  client: RedisScriptClient,
  prefix: string,
  depth: ReadDepth,
): Promise<RegistryRead> {
  const live = await readIndex(
    client,
    prefix,
    beatsKey(prefix),
    'asc',
    depth,
    MAX_INSTANCES_PER_PREFIX,
  );
  const room = MAX_INSTANCES_PER_PREFIX - live.instances.length;
  // Newest stopped first, so a cap drops the oldest deploy leftovers, never live or dead entries.
  const stopped = await readIndex(client, prefix, stoppedKey(prefix), 'rev', depth, room);
  return {
    now: Math.max(live.now, stopped.now),
    instances: [...live.instances, ...stopped.instances],
    dropped:
      (await unread(client, beatsKey(prefix), live)) +
      (await unread(client, stoppedKey(prefix), stopped)),
  };
}

/** Members of an index that a read stopped short of (0 unless it reached its limit). */
async function unread(client: RedisScriptClient, key: string, read: IndexRead): Promise<number> {
  if (!read.full) return 0;
  return Math.max(0, Number(await runScript(client, COUNT, [key])) - read.instances.length);
}

interface IndexRead {
  now: number;
  instances: InstanceFields[];
  /** The read stopped at its limit (there may be more). */
  full: boolean;
}

/**
 * Pages through one index by score. An instance that beats during the read
 * moves to the end and may come twice (kept once); none is skipped, because
 * scores only grow and ties are paged past by count.
 */
async function readIndex(
  client: RedisScriptClient,
  prefix: string,
  key: string,
  order: 'asc' | 'rev',
  depth: ReadDepth,
  limit: number,
): Promise<IndexRead> {
  const byId = new Map<string, InstanceFields>();
  let from = order === 'asc' ? '-inf' : '+inf';
  let skip = 0;
  let now = 0;
  for (;;) {
    const count = Math.min(PAGE_SIZE, limit - byId.size);
    if (count <= 0) return { now, instances: [...byId.values()], full: true };
    const page = await readPage(client, prefix, key, from, skip, count, order, depth);
    now = page.now;
    for (const entry of page.entries) {
      if (entry.fields) byId.set(entry.id, entry.fields);
      if (String(entry.score) === from) skip++;
      else {
        from = String(entry.score);
        skip = 1;
      }
    }
    if (page.entries.length < count) return { now, instances: [...byId.values()], full: false };
  }
}

interface PageEntry {
  id: string;
  score: number;
  fields: InstanceFields | undefined;
}

async function readPage(
  client: RedisScriptClient,
  prefix: string,
  key: string,
  from: string,
  skip: number,
  count: number,
  order: 'asc' | 'rev',
  depth: ReadDepth,
): Promise<{ now: number; entries: PageEntry[] }> {
  const wanted = depth === 'all' ? ['all'] : VERDICT_FIELDS;
  const reply = (await runScript(client, PAGE, [
    key,
    instanceKeyPrefix(prefix),
    from,
    String(skip),
    String(count),
    order,
    ...wanted,
  ])) as unknown[];
  const entries: PageEntry[] = [];
  for (let i = 1; i + 2 < reply.length; i += 3) {
    const id = String(reply[i]);
    const score = Number(reply[i + 1]);
    const values = reply[i + 2];
    const record = depth === 'all' ? pairsToRecord(values) : namedValues(values);
    // The index score is the last beat (or the stop): the hash's own copy is not read.
    entries.push({ id, score, fields: decodeFields({ lastBeat: String(score), ...record }) });
  }
  return { now: Number(reply[0]), entries };
}

function namedValues(values: unknown): Record<string, string> {
  const record: Record<string, string> = {};
  if (!Array.isArray(values)) return record;
  VERDICT_FIELDS.forEach((field, i) => {
    if (values[i] !== null && values[i] !== undefined) record[field] = String(values[i]);
  });
  return record;
}

/** HGETALL inside Lua comes back as a flat [field, value, …] array (or a map on RESP3 clients). */
function pairsToRecord(flat: unknown): Record<string, string> {
  if (!Array.isArray(flat)) return (flat ?? {}) as Record<string, string>;
  const record: Record<string, string> = {};
  for (let i = 0; i + 1 < flat.length; i += 2) record[String(flat[i])] = String(flat[i + 1]);
  return record;
}
