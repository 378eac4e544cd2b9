// What a failed statement of jobwatch's own on PostgreSQL (a beat, the lease)
// means, in the reasons of bullmq.worker.heartbeat.errors, so the same alert
// (BackgroundWorkerHeartbeatFailing) says "this worker is invisible to the
// fleet" on either store. Classes by SQLSTATE, then by the driver's message.

import type { RefusalReason } from '../redis/errors.js';

const BY_SQLSTATE: Record<string, RefusalReason> = {
  '42501': 'noperm', // insufficient_privilege
  '25006': 'readonly', // read_only_sql_transaction (a standby)
  '53100': 'oom', // disk_full
  '53200': 'oom', // out_of_memory
  '57014': 'timeout', // query_canceled (statement_timeout)
};

export function postgresFailureReason(err: unknown): RefusalReason {
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
