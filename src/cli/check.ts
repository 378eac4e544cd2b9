// `jobwatch check`: the health report as JSON, exit 0 healthy / 1 not, within
// --timeout even when Redis (or the health endpoint) hangs.

import { describeError } from '../log.js';
import type { CliOptions } from './options.js';
import { readHealth } from './read-health.js';

export async function runCheck(options: CliOptions): Promise<number> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<{ healthy: boolean; body: unknown }>((resolve) => {
    timer = setTimeout(
      () =>
        resolve({
          healthy: false,
          body: {
            status: 'unhealthy',
            timestamp: new Date().toISOString(),
            error: `no answer within ${options.timeoutMs} ms`,
          },
        }),
      options.timeoutMs,
    );
  });
  const work = (options.url ? viaEndpoint(options) : viaRedis(options)).catch((err) => ({
    healthy: false,
    body: { status: 'unhealthy', timestamp: new Date().toISOString(), error: describeError(err) },
  }));
  const result = await Promise.race([work, timeout]);
  clearTimeout(timer);
  process.stdout.write(`${JSON.stringify(result.body, null, 2)}\n`);
  return result.healthy ? 0 : 1;
}

async function viaRedis(options: CliOptions) {
  const read = await readHealth(options);
  void read.close();
  return { healthy: read.report.status === 'healthy', body: read.report };
}

async function viaEndpoint(options: CliOptions) {
  const res = await fetch(options.url!, {
    headers: options.token ? { authorization: `Bearer ${options.token}` } : {},
    signal: AbortSignal.timeout(options.timeoutMs),
  });
  const text = await res.text();
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    body = { status: 'unhealthy', error: `HTTP ${res.status}: ${text.slice(0, 200)}` };
  }
  return { healthy: res.status === 200, body };
}
