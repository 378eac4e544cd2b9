// Every Redis command jobwatch sends is one of these Lua scripts, so that a
// beat is ONE command (EVALSHA) with every timestamp from the server's TIME,
// and so that they run alike on every client BullMQ supports (client.ts).
// Each script touches the keys of one registry or one queue, all in one
// Redis Cluster slot (keys.ts).

import type { Script } from './client.js';

const NOW_MS = `local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)`;

// KEYS: instance hash, beats, stopped. ARGV: id, retention ms, '1' to mark stopped, field/value pairs.
export const BEAT: Script = {
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
export const LEASE: Script = {
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

export const RELEASE: Script = {
  name: 'jobwatch_release_v1',
  keys: 1,
  lua: `if redis.call('GET', KEYS[1]) == ARGV[1] then redis.call('DEL', KEYS[1]) end
return 0`,
};

// One page of an index, from a score on (ties past the first `skip`), oldest
// first, or newest first with ARGV[5] = 'rev'. KEYS: index. ARGV: instance key
// prefix, from score, skip, count, order, 'all' or the fields to read.
// Returns {now, id, score, fields, id, score, fields, …}; fields is false for
// a key that is not a hash (an entry someone overwrote), so one bad entry
// never fails the read.
export const PAGE: Script = {
  name: 'jobwatch_page_v2',
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
  local ok, values
  if ARGV[6] == 'all' then ok, values = pcall(redis.call, 'HGETALL', key) else ok, values = pcall(redis.call, 'HMGET', key, unpack(ARGV, 6)) end
  if not ok then values = false end
  out[#out + 1] = page[i]
  out[#out + 1] = page[i + 1]
  out[#out + 1] = values
end
return out`,
};

export const COUNT: Script = {
  name: 'jobwatch_count_v1',
  keys: 1,
  lua: `return redis.call('ZCARD', KEYS[1])`,
};

// KEYS: a queue's wait, paused, active, prioritized, delayed, waiting-children,
// completed and failed keys (keys.ts). ARGV: the queue's key prefix (its job
// hashes are `prefix:queue:id`). Returns their lengths, as Queue.getJobCounts()
// counts them (lists by length, sorted sets by cardinality), then how long the
// job next in line has been ready (ms): the older of the wait list's two ends
// (FIFO jobs leave from one, LIFO jobs are pushed to it) and the head of the
// prioritized set, each ready since it was added plus its delay, or since its
// last attempt began.
export const QUEUE_DEPTH: Script = {
  name: 'jobwatch_queue_depth_v2',
  keys: 8,
  lua: `${NOW_MS}
local out = {
  redis.call('LLEN', KEYS[1]), redis.call('LLEN', KEYS[2]), redis.call('LLEN', KEYS[3]),
  redis.call('ZCARD', KEYS[4]), redis.call('ZCARD', KEYS[5]), redis.call('ZCARD', KEYS[6]),
  redis.call('ZCARD', KEYS[7]), redis.call('ZCARD', KEYS[8])}
local oldest = now
local function ready(id)
  if not id then return end
  local f = redis.call('HMGET', ARGV[1] .. id, 'timestamp', 'delay', 'processedOn')
  local at = tonumber(f[1])
  if not at then return end
  at = at + (tonumber(f[2]) or 0)
  local began = tonumber(f[3])
  if began and began > at then at = began end
  if at < oldest then oldest = at end
end
-- A paused queue's jobs wait by the operator's choice, not for a worker (BullMQ 6
-- keeps them in wait, BullMQ 5 moves them to paused): no age.
if redis.call('HEXISTS', ARGV[1] .. 'meta', 'paused') == 0 then
  ready(redis.call('LINDEX', KEYS[1], -1))
  ready(redis.call('LINDEX', KEYS[1], 0))
  ready(redis.call('ZRANGE', KEYS[4], 0, 0)[1])
end
out[9] = now - oldest
return out`,
};

/** For clients without ping() (BullMQ 6's adapters other than ioredis's). */
export const PING: Script = {
  name: 'jobwatch_ping_v1',
  keys: 0,
  lua: `return redis.call('PING')`,
};
