// What a failed statement of jobwatch's own on PostgreSQL (a beat, the lease,
// a read) means: one reason of src/registry/failures.ts, by SQLSTATE, then by
// the driver's message.

import { describeError } from '../../log.js';
import type { FailureReading, FailureReason } from '../../registry/failures.js';
import { RegistryUnavailableError } from './registry-store.js';

const BY_SQLSTATE: Record<string, FailureReason> = {
  '42501': 'noperm', // insufficient_privilege
  '25006': 'readonly', // read_only_sql_transaction (a standby)
  '53100': 'oom', // disk_full
  '53200': 'oom', // out_of_memory
  '57014': 'timeout', // query_canceled (statement_timeout)
};

export function postgresFailureReason(err: unknown): FailureReason {
  const code = (err as { code?: unknown } | null | undefined)?.code;
  if (typeof code === 'string') {
    const known = BY_SQLSTATE[code];
    if (known) return known;
    // 08: connection exceptions; 57P01-03: the server shutting down or starting
    if (code.startsWith('08') || /^57P0[1-3]$/.test(code)) return 'connection';
  }
  const message = err instanceof Error ? err.message : String(err);
  if (/timed out|timeout/i.test(message)) return 'timeout';
  if (
    /ECONNREFUSED|ECONNRESET|EHOSTUNREACH|ENOTFOUND|Connection terminated|not queryable|ended/i.test(
      message,
    )
  ) {
    return 'connection';
  }
  return 'other';
}

/** The reason and what to do about it: the driver's own words (a registry that cannot work here says why). */
export function readPostgresFailure(err: unknown): FailureReading {
  if (err instanceof RegistryUnavailableError) return { reason: 'noperm', advice: err.message };
  return { reason: postgresFailureReason(err), advice: describeError(err) };
}
