// What a failed Redis command of jobwatch's own (a beat, a registry read, the
// lease) means: one reason of src/registry/failures.ts, and one line that says
// what to grant or change. The app's own BullMQ commands are not judged here.

import type { FailureReading, FailureReason } from '../../registry/failures.js';
import { registryBase } from './keys.js';

const PATTERNS: [RegExp, FailureReason][] = [
  [/\bNOPERM\b|can't run this command|no permissions/i, 'noperm'],
  [/\bOOM\b/, 'oom'],
  [/\bCROSSSLOT\b|non local key|non-local key/i, 'crossslot'],
  [/unknown command|Unknown Redis command/i, 'unknown_command'],
  [/\bREADONLY\b/, 'readonly'],
  [/timed out|ETIMEDOUT/i, 'timeout'],
  [
    /ECONNREFUSED|ECONNRESET|ENOTFOUND|EHOSTUNREACH|EPIPE|Connection is closed|MaxRetriesPerRequest|Stream isn't writeable|enableOfflineQueue|ClusterAllFailedError|Failed to refresh slots|ClosingError|Connection closed/i,
    'connection',
  ],
];

export function redisFailureReason(err: unknown): FailureReason {
  const message = err instanceof Error ? err.message : String(err);
  for (const [pattern, reason] of PATTERNS) if (pattern.test(message)) return reason;
  return 'other';
}

/** The reason and what to do about it, naming the command, key or setting involved. */
export function readRedisFailure(err: unknown, prefix: string): FailureReading {
  const reason = redisFailureReason(err);
  return { reason, advice: advice(reason, err, registryBase(prefix)) };
}

function advice(reason: FailureReason, err: unknown, keys: string): string {
  const message = err instanceof Error ? err.message : String(err);
  switch (reason) {
    case 'noperm': {
      // Redis 7.2+ names the command; 7.0 only says a script's command was refused.
      const named = /run the '([^']+)' command/.exec(message)?.[1];
      if (named || /can't run this command/.test(message)) {
        const command = named
          ? named.toUpperCase()
          : 'TIME (most likely: the one command of its scripts that BullMQ does not need)';
        return `the Redis user may not run ${command}; grant +${(named ?? 'time').toLowerCase()} (jobwatch's scripts call TIME, HSET, HSETNX, HMGET, HGETALL, PEXPIRE, PTTL, ZADD, ZREM, ZCARD, ZRANGEBYSCORE, ZREVRANGEBYSCORE, ZREMRANGEBYSCORE, LLEN, GET, SET, DEL, PING)`;
      }
      return `the Redis user may not access jobwatch's keys (grant ~${keys}*)`;
    }
    case 'oom':
      return 'Redis is out of memory (maxmemory reached with a noeviction policy)';
    case 'crossslot':
      return 'the registry keys are not in one Redis Cluster slot';
    case 'unknown_command':
      return 'this Redis does not offer a command jobwatch needs (EVALSHA, TIME or ZRANGEBYSCORE; a proxy or managed Redis may disable them)';
    case 'readonly':
      return 'the connection reaches a read-only replica';
    default:
      return message;
  }
}
