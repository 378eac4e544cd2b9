// jobwatch never throws into the host app and never floods its logs: every
// message goes to stderr with one prefix, and repeated warnings of the same
// kind are rate-limited.

const PREFIX = '[jobwatch]';
const WARN_INTERVAL_MS = 60_000;
const lastWarned = new Map<string, number>();

export function logError(message: string): void {
  process.stderr.write(`${PREFIX} error: ${message}\n`);
}

export function logInfo(message: string): void {
  process.stderr.write(`${PREFIX} ${message}\n`);
}

/** Logs at most one warning per `key` per minute. Returns true when it logged. */
export function warnRateLimited(key: string, message: string, now = Date.now()): boolean {
  const last = lastWarned.get(key);
  if (last !== undefined && now - last < WARN_INTERVAL_MS) return false;
  lastWarned.set(key, now);
  process.stderr.write(`${PREFIX} warning: ${message}\n`);
  return true;
}

export function describeError(err: unknown): string {
  if (err instanceof Error) return `${err.name}: ${err.message}`;
  return String(err);
}

/**
 * Runs jobwatch's own bookkeeping so that a bug in jobwatch can never break
 * the host: errors are swallowed and reported once a minute per `key`.
 */
export function guard<T>(key: string, fn: () => T): T | undefined {
  try {
    return fn();
  } catch (err) {
    ignoreInternalError(key, err);
    return undefined;
  }
}

/** What guard() does with an error it caught; for per-job paths that catch it themselves, without a closure per call. */
export function ignoreInternalError(key: string, err: unknown): void {
  warnRateLimited(`internal:${key}`, `internal error in ${key} (ignored): ${describeError(err)}`);
}
