// The health endpoints, for uptime monitors and orchestrators. Nothing listens
// unless JOBWATCH_HEALTH_PORT is set; it binds JOBWATCH_HEALTH_HOST (default
// 127.0.0.1, so only the host itself and sidecars see it).
//
//   GET /health/live    200 while the process (and its event loop) answers
//   GET /health/ready   200 when the app's own BullMQ connections answer (a PING
//                       on Redis, SELECT 1 on PostgreSQL), else 503; jobwatch's own
//                       problems (refused heartbeats, its JOBWATCH_REDIS_URL
//                       connection) never make it 503
//   GET /health/queues  the health report (src/health/report.ts): 200 healthy or
//                       degraded, 503 unhealthy (a known worker dead or hung) or
//                       unknown (a registry out of reach), with the reason;
//                       Bearer JOBWATCH_HEALTH_TOKEN required when set (401)
//
// Requests are small and quick or refused: 8 KiB of headers, 5 s for headers,
// 10 s per request, GET/HEAD only, no body read; past 64 open connections the
// oldest idle one makes room (connection-limit.ts), so a flood of idle or slow
// connections never locks a liveness probe out.

import { createHash, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { JobwatchConfig } from '../config.js';
import type { Health } from '../health/index.js';
import { buildReport, type QueueCounts } from '../health/report.js';
import { untraced } from '../http/untraced.js';
import { describeError, guard, logError, logInfo, warnRateLimited } from '../log.js';
import { withTimeout } from '../timeout.js';
import { evictIdleBeyond } from './connection-limit.js';

export const SERVER_LIMITS = {
  maxHeaderSize: 8192,
  headersTimeout: 5000,
  requestTimeout: 10_000,
  keepAliveTimeout: 2000,
  maxConnections: 64,
} as const;

const digest = (value: string) => createHash('sha256').update(value).digest();

/**
 * Compares the request's bearer token with the expected one in constant time:
 * both are hashed to 32 bytes first, so neither the content nor the length of
 * the secret shows in the timing of timingSafeEqual.
 */
export function bearerMatches(header: string | undefined, expected: string): boolean {
  const match = /^Bearer\s+(.+)$/i.exec(header ?? '');
  const given = match?.[1]?.trim() ?? '';
  return timingSafeEqual(digest(given), digest(expected)) && given.length > 0;
}

export interface HealthServer {
  server: Server;
  /** Resolves with the bound port once listening (undefined if it could not bind). */
  listening: Promise<number | undefined>;
  close(): Promise<void>;
}

/** What the endpoints show: worker health, queue depth, and the app's own connections. */
export interface HealthSources {
  health: Pick<Health, 'view'>;
  /** Jobs per queue and state (the queue-depth gauge's cached read). */
  queueCounts(): Promise<QueueCounts>;
  /** Pings the app's own BullMQ connections. */
  readiness(timeoutMs: number): Promise<{ connections: number; errors: string[] }>;
}

/** The health endpoints when JOBWATCH_HEALTH_PORT is set. */
export function startHealthEndpoints(
  config: JobwatchConfig,
  sources: HealthSources,
): HealthServer | undefined {
  if (config.healthPort === undefined) return undefined;
  return guard('health server', () => startHealthServer(config, sources));
}

export function startHealthServer(config: JobwatchConfig, sources: HealthSources): HealthServer {
  const server = untraced(
    createServer(
      {
        maxHeaderSize: SERVER_LIMITS.maxHeaderSize,
        requestTimeout: SERVER_LIMITS.requestTimeout,
        // How often the two timeouts are enforced (Node's default is every 30 s).
        connectionsCheckingInterval: 1000,
      },
      (req, res) => {
        handle(req, res, config, sources).catch((err) => {
          warnRateLimited('health-server', `health endpoint failed: ${describeError(err)}`);
          if (!res.headersSent) send(res, 500, { status: 'error' });
          else res.destroy();
        });
      },
    ),
  );
  server.headersTimeout = SERVER_LIMITS.headersTimeout;
  server.keepAliveTimeout = SERVER_LIMITS.keepAliveTimeout;
  evictIdleBeyond(server, SERVER_LIMITS.maxConnections);
  const listening = new Promise<number | undefined>((resolve) => {
    server.once('error', (err) => {
      logError(
        `JOBWATCH_HEALTH_PORT=${config.healthPort}: cannot listen on ${config.healthHost}:${config.healthPort} (${describeError(err)}); health endpoints are off`,
      );
      resolve(undefined);
    });
    server.listen(config.healthPort, config.healthHost, () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : undefined;
      logInfo(`health endpoints on http://${config.healthHost}:${port}/health/{live,ready,queues}`);
      resolve(port);
    });
  });
  server.unref();
  const close = () =>
    new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    });
  return { server, listening, close };
}

async function handle(
  req: IncomingMessage,
  res: ServerResponse,
  config: JobwatchConfig,
  sources: HealthSources,
): Promise<void> {
  if (req.method !== 'GET' && req.method !== 'HEAD') {
    res.setHeader('Allow', 'GET, HEAD');
    return send(res, 405, { status: 'method not allowed' });
  }
  const path = (req.url ?? '/').split('?')[0];
  switch (path) {
    case '/health/live':
      return send(res, 200, { status: 'ok', timestamp: new Date().toISOString() });
    case '/health/ready':
      return ready(res, config, sources);
    case '/health/queues': {
      if (
        config.healthToken !== undefined &&
        !bearerMatches(req.headers.authorization, config.healthToken)
      ) {
        res.setHeader('WWW-Authenticate', 'Bearer');
        return send(res, 401, { status: 'unauthorized' });
      }
      const [snapshot, queues] = await Promise.all([
        sources.health.view.snapshot(),
        withTimeout(sources.queueCounts(), config.collectTimeoutMs * 2, 'queue counts').catch(
          () => ({}),
        ),
      ]);
      const report = buildReport(snapshot, queues);
      const up = report.status === 'healthy' || report.status === 'degraded';
      return send(res, up ? 200 : 503, report);
    }
    default:
      return send(res, 404, { status: 'not found' });
  }
}

async function ready(res: ServerResponse, config: JobwatchConfig, sources: HealthSources) {
  const { connections, errors } = await sources.readiness(config.collectTimeoutMs);
  const ok = errors.length === 0;
  send(res, ok ? 200 : 503, {
    status: ok ? 'ready' : 'unavailable',
    timestamp: new Date().toISOString(),
    connections,
    errors,
  });
}

function send(res: ServerResponse, status: number, body: unknown): void {
  const json = JSON.stringify(body);
  res.writeHead(status, {
    'Content-Type': 'application/json; charset=utf-8',
    'Content-Length': Buffer.byteLength(json),
    'Cache-Control': 'no-store',
  });
  res.end(res.req.method === 'HEAD' ? undefined : json);
}
