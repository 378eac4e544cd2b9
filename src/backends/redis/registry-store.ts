// The registry store on Redis (the contract: src/registry/store.ts). One beat
// is one script call; a lease renewal one; a read one call per PAGE_SIZE
// instances of an index, each reading only the fields it needs.
//
// Cost: a beat is O(log n) (two sorted-set updates and a purge of expired
// index members). The lease is one O(1) call per interval per process. A read
// (the elected fleet view only, and the CLI) is one call per PAGE_SIZE
// instances.

import {
  decodeFields,
  encodeFields,
  type InstanceFields,
  type WrittenFields,
} from '../../registry/entry.js';
import {
  MAX_INSTANCES_PER_REGISTRY,
  PAGE_SIZE,
  type ReadDepth,
  type RegistryRead,
  type RegistryStore,
} from '../../registry/store.js';
import { type RedisScriptClient, runScript } from './client.js';
import { beatsKey, instanceKey, instanceKeyPrefix, leaseKey, stoppedKey } from './keys.js';
import { BEAT, COUNT, LEASE, PAGE, RELEASE } from './scripts.js';

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
  'loopStuckMs',
  'loopLimitMs',
  'loopWhat',
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
        ...encodeFields(stopped ? { ...fields, status: 'stopped' } : fields),
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
    MAX_INSTANCES_PER_REGISTRY,
  );
  const room = MAX_INSTANCES_PER_REGISTRY - live.instances.length;
  // Newest stopped first, so a cap drops the oldest deploy leftovers, never live or dead entries.
  const stopped = await readIndex(client, prefix, stoppedKey(prefix), 'rev', depth, room);
  return {
    now: Math.max(live.now, stopped.now),
    instances: [...live.instances, ...stopped.instances],
    dropped:
      (await unread(client, beatsKey(prefix), live)) +
      (await unread(client, stoppedKey(prefix), stopped)),
    malformed: [...live.malformed, ...stopped.malformed],
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
  malformed: string[];
  /** The read stopped at its limit (there may be more). */
  full: boolean;
}

/**
 * Pages through one index by score. An instance that beats during the read
 * moves to the end and may come twice (kept once); none is skipped, because
 * scores only grow and ties are paged past by count. Pages go on from the
 * score as Redis wrote it (`inf` too), whatever a malformed member holds.
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
  const malformed = new Set<string>();
  let from = order === 'asc' ? '-inf' : '+inf';
  let skip = 0;
  let now = 0;
  const done = (full: boolean) => ({
    now,
    instances: [...byId.values()],
    malformed: [...malformed],
    full,
  });
  for (;;) {
    const count = Math.min(PAGE_SIZE, limit - byId.size);
    if (count <= 0) return done(true);
    const page = await readPage(client, prefix, key, from, skip, count, order, depth);
    now = page.now;
    for (const entry of page.entries) {
      if (entry.fields) byId.set(entry.id, entry.fields);
      else if (entry.malformed) malformed.add(entry.id);
      if (entry.score === from) skip++;
      else {
        from = entry.score;
        skip = 1;
      }
    }
    if (page.entries.length < count) return done(false);
  }
}

interface PageEntry {
  id: string;
  /** The member's score as Redis wrote it. */
  score: string;
  fields: InstanceFields | undefined;
  /** Present but not a jobwatch entry (a key of another type, a score that is no time). */
  malformed: boolean;
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
    entries.push(pageEntry(String(reply[i]), String(reply[i + 1]), reply[i + 2], depth));
  }
  return { now: Number(reply[0]), entries };
}

function pageEntry(id: string, score: string, values: unknown, depth: ReadDepth): PageEntry {
  // The script answers false (nil) for a key it could not read as a hash.
  const record = depth === 'all' ? pairsToRecord(values) : namedValues(values);
  const gone = Object.keys(record).length === 0 && values !== null && values !== false;
  const beat = Number(score);
  // The index score is the last beat (or the stop): the hash's own copy is not read.
  const fields = Number.isFinite(beat)
    ? decodeFields({ ...record, lastBeat: String(beat) })
    : undefined;
  // A hash that expired since the index was purged is gone, not malformed.
  return { id, score, fields, malformed: fields === undefined && !gone };
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
  if (flat === null || flat === false || flat === undefined) return {};
  if (!Array.isArray(flat)) return flat as Record<string, string>;
  const record: Record<string, string> = {};
  for (let i = 0; i + 1 < flat.length; i += 2) record[String(flat[i])] = String(flat[i + 1]);
  return record;
}
