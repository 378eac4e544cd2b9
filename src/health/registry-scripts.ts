// The registry's Redis side: two Lua scripts, so that one beat is ONE command
// (EVALSHA) and one read of a whole prefix is ONE command, and so that every
// timestamp comes from the Redis server's TIME inside the script. Scripts are
// registered with the client's own defineCommand, which works on every client
// BullMQ supports (ioredis for 5.x; ioredis, node-redis and Bun adapters for 6.x).

import { type RedisScriptClient, runScript, type Script } from '../redis/access.js';
import {
  decodeFields,
  encodeFields,
  type InstanceFields,
  indexKey,
  instanceKey,
  instanceKeyPrefix,
  MAX_INSTANCES_PER_PREFIX,
  type WrittenFields,
} from './registry-keys.js';

const NOW_MS = `local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)`;

// KEYS: instance hash, index. ARGV: id, retention ms, '1' to mark stopped, field/value pairs.
const BEAT: Script = {
  name: 'jobwatch_beat_v1',
  keys: 2,
  lua: `${NOW_MS}
local retention = tonumber(ARGV[2])
redis.call('HSETNX', KEYS[1], 'startedAt', now)
if ARGV[3] == '1' then redis.call('HSET', KEYS[1], 'stoppedAt', now) end
redis.call('HSET', KEYS[1], 'lastBeat', now, unpack(ARGV, 4))
redis.call('PEXPIRE', KEYS[1], retention)
redis.call('ZADD', KEYS[2], now + retention, ARGV[1])
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now)
if redis.call('PTTL', KEYS[2]) < retention then redis.call('PEXPIRE', KEYS[2], retention) end
return now`,
};

// KEYS: index. ARGV: instance key prefix, max instances. Returns {now, hash, hash, …}.
const READ: Script = {
  name: 'jobwatch_read_v1',
  keys: 1,
  lua: `${NOW_MS}
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
local ids = redis.call('ZRANGE', KEYS[1], 0, tonumber(ARGV[2]) - 1)
local out = {now}
for _, id in ipairs(ids) do
  out[#out + 1] = redis.call('HGETALL', ARGV[1] .. id)
end
return out`,
};

/** Writes one heartbeat; resolves to the Redis time it was written at. */
export async function writeBeat(
  client: RedisScriptClient,
  prefix: string,
  fields: WrittenFields,
  retentionMs: number,
  stopped: boolean,
): Promise<number> {
  const args = [
    instanceKey(prefix, fields.id),
    indexKey(prefix),
    fields.id,
    String(retentionMs),
    stopped ? '1' : '0',
    ...encodeFields(fields),
  ];
  return Number(await runScript(client, BEAT, args));
}

export interface RegistryRead {
  /** Redis server time (ms) of the read. */
  now: number;
  instances: InstanceFields[];
}

/** Reads every live entry (within retention) of one prefix and purges expired index members. */
export async function readRegistry(
  client: RedisScriptClient,
  prefix: string,
): Promise<RegistryRead> {
  const reply = (await runScript(client, READ, [
    indexKey(prefix),
    instanceKeyPrefix(prefix),
    String(MAX_INSTANCES_PER_PREFIX),
  ])) as [number | string, ...unknown[]];
  const instances: InstanceFields[] = [];
  for (const flat of reply.slice(1)) {
    const decoded = decodeFields(pairsToRecord(flat));
    if (decoded) instances.push(decoded);
  }
  return { now: Number(reply[0]), instances };
}

/** HGETALL inside Lua comes back as a flat [field, value, …] array (or a map on RESP3 clients). */
function pairsToRecord(flat: unknown): Record<string, string> {
  if (!Array.isArray(flat)) return (flat ?? {}) as Record<string, string>;
  const record: Record<string, string> = {};
  for (let i = 0; i + 1 < flat.length; i += 2) record[String(flat[i])] = String(flat[i + 1]);
  return record;
}

const PING: Script = { name: 'jobwatch_time_v1', keys: 0, lua: `${NOW_MS}\nreturn now` };

/** Redis server time (ms): proves the server answers scripts, for readiness. */
export async function redisTime(client: RedisScriptClient): Promise<number> {
  return Number(await runScript(client, PING, []));
}
