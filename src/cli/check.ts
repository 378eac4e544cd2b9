// `jobwatch check`: the health report as JSON, and its status as the exit
// code (exit-codes.ts), within --timeout even when the store (or the health
// endpoint) hangs.

import type { HealthStatus } from '../health/report.js';
import { describeError } from '../log.js';
import { withoutCredentials } from '../url.js';
import { exitCodeOf } from './exit-codes.js';
import type { CliOptions } from './options.js';
import { readHealth } from './read-health.js';

interface Answer {
  status: HealthStatus;
  body: unknown;
}

export async function runCheck(options: CliOptions): Promise<number> {
  // A process's own endpoint that does not answer is a dead or hung process (as a
  // Nagios check_http says CRITICAL); a store that does not answer says nothing
  // about the workers that beat into it.
  const silent: HealthStatus = options.url ? 'unhealthy' : 'unknown';
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<Answer>((resolve) => {
    timer = setTimeout(
      () => resolve(answer(silent, `no answer within ${options.timeoutMs} ms`, options)),
      options.timeoutMs,
    );
  });
  const work = (options.url ? viaEndpoint(options) : viaRegistry(options)).catch((err) =>
    answer(silent, describeError(err), options),
  );
  const result = await Promise.race([work, timeout]);
  clearTimeout(timer);
  process.stdout.write(`${JSON.stringify(result.body, null, 2)}\n`);
  return exitCodeOf(result.status);
}

function answer(status: HealthStatus, reason: string, options: CliOptions): Answer {
  const read = [options.url, options.redis, options.postgres]
    .filter((url): url is string => Boolean(url))
    .map(withoutCredentials)
    .join(', ');
  return {
    status,
    body: {
      status,
      reason: `${reason} (reading ${read})`,
      timestamp: new Date().toISOString(),
    },
  };
}

async function viaRegistry(options: CliOptions): Promise<Answer> {
  const read = await readHealth(options);
  void read.close();
  return { status: read.report.status, body: read.report };
}

async function viaEndpoint(options: CliOptions): Promise<Answer> {
  const res = await fetch(options.url!, {
    headers: options.token ? { authorization: `Bearer ${options.token}` } : {},
    signal: AbortSignal.timeout(options.timeoutMs),
  });
  const text = await res.text();
  // Only a health report (200 or 503) is a verdict; a 401, a 404 or a proxy's page says nothing.
  if (res.status === 200 || res.status === 503) {
    const body = parseReport(text);
    if (body) return { status: body.status, body };
  }
  return answer('unknown', `HTTP ${res.status}: ${text.slice(0, 200)}`, options);
}

function parseReport(text: string): { status: HealthStatus } | undefined {
  try {
    const body = JSON.parse(text) as { status?: unknown };
    const known: unknown[] = ['healthy', 'degraded', 'unhealthy', 'unknown'];
    return known.includes(body.status) ? (body as { status: HealthStatus }) : undefined;
  } catch {
    return undefined;
  }
}
