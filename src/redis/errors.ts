// What a refused Redis command means for jobwatch's own work (heartbeats,
// registry reads, the lease): one reason from a fixed set, for the
// bullmq.worker.heartbeat.errors counter, and one line that says what to grant
// or change. The app's own BullMQ commands are not judged here.

export const REFUSAL_REASONS = [
  'noperm',
  'oom',
  'crossslot',
  'unknown_command',
  'readonly',
  'connection',
  'timeout',
  'other',
] as const;

export type RefusalReason = (typeof REFUSAL_REASONS)[number];

const PATTERNS: [RegExp, RefusalReason][] = [
  [/\bNOPERM\b|can't run this command|no permissions/i, 'noperm'],
  [/\bOOM\b/, 'oom'],
  [/\bCROSSSLOT\b|non local key|non-local key/i, 'crossslot'],
  [/unknown command|Unknown Redis command/i, 'unknown_command'],
  [/\bREADONLY\b/, 'readonly'],
  [/timed out|ETIMEDOUT/i, 'timeout'],
  [
    /ECONNREFUSED|ECONNRESET|ENOTFOUND|EHOSTUNREACH|EPIPE|Connection is closed|MaxRetriesPerRequest|Stream isn't writeable|enableOfflineQueue|ClusterAllFailedError|Failed to refresh slots/i,
    'connection',
  ],
];

export function refusalReason(err: unknown): RefusalReason {
  const message = err instanceof Error ? err.message : String(err);
  for (const [pattern, reason] of PATTERNS) if (pattern.test(message)) return reason;
  return 'other';
}

/** True for reasons that say Redis itself is out of reach (rather than refusing jobwatch). */
export function isUnreachable(reason: RefusalReason): boolean {
  return reason === 'connection' || reason === 'timeout';
}

/** What to do about a refusal, in a few words naming the command, key or setting involved. */
export function refusalAdvice(reason: RefusalReason, err: unknown, keys: string): string {
  const message = err instanceof Error ? err.message : String(err);
  switch (reason) {
    case 'noperm': {
      // Redis 7.2+ names the command; 7.0 only says a script's command was refused.
      const named = /run the '([^']+)' command/.exec(message)?.[1];
      if (named || /can't run this command/.test(message)) {
        const command = named
          ? named.toUpperCase()
          : 'TIME (most likely: the one command of its scripts that BullMQ does not need)';
        return `the Redis user may not run ${command}; grant +${(named ?? 'time').toLowerCase()} (jobwatch's scripts call TIME, HSET, HSETNX, HMGET, HGETALL, PEXPIRE, PTTL, ZADD, ZREM, ZCARD, ZRANGEBYSCORE, ZREVRANGEBYSCORE, ZREMRANGEBYSCORE, GET, SET, DEL)`;
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
