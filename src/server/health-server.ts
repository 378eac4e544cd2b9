// The health endpoints, for uptime monitors and orchestrators. Nothing listens
// unless JOBWATCH_HEALTH_PORT is set; it binds JOBWATCH_HEALTH_HOST (default
// 127.0.0.1, so only the host itself and sidecars see it).
//
//   GET /health/live    200 while the process (and its event loop) answers
//   GET /health/ready   200 when the app's own BullMQ connections answer (PING), else
//                       503; jobwatch's own problems (refused heartbeats, its
//                       JOBWATCH_REDIS_URL connection) never make it 503
//   GET /health/queues  the health report (src/health/report.ts): 200 healthy,
//                       503 Redis unreachable or a known worker dead/hung;
//                       Bearer JOBWATCH_HEALTH_TOKEN required when set (401)
//
// Requests are small and quick or refused: 8 KiB of headers, 5 s for headers,
// 10 s per request, GET/HEAD only, no body read.

import { createHash, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createNoopMeter } from '@opentelemetry/api';
import type { JobwatchConfig } from '../config.js';
import type { Health } from '../health/index.js';
import { buildReport } from '../health/report.js';
import { untraced } from '../http/untraced.js';
import { describeError, guard, logError, logInfo, warnRateLimited } from '../log.js';
import { QueueDepth } from '../metrics/queue-depth.js';
import { withTimeout } from '../redis/access.js';

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

/**
 * /health/queues reads queue depth through the process's queue-depth
 * collector (one cached read serves the gauge and the endpoint), or through
 * one of its own when JOBWATCH_QUEUE_DEPTH=false turned that off.
 */
function queueDepthFor(config: JobwatchConfig, health: Health, shared?: QueueDepth) {
  if (shared) return { counts: shared, close: async () => {} };
  const own = new QueueDepth(createNoopMeter(), config);
  health.connections.onUser((user) => own.queueUsed(user));
  return { counts: own, close: () => own.close() };
}

/** The health endpoints when JOBWATCH_HEALTH_PORT is set; they close when `health` stops. */
export function startHealthEndpoints(
  config: JobwatchConfig,
  health: Health,
  sharedDepth?: QueueDepth,
): HealthServer | undefined {
  if (config.healthPort === undefined) return undefined;
  return guard('health server', () => startHealthServer(config, health, sharedDepth));
}

export function startHealthServer(
  config: JobwatchConfig,
  health: Health,
  sharedDepth?: QueueDepth,
): HealthServer {
  const depth = queueDepthFor(config, health, sharedDepth);
  const counts = depth.counts;
  const server = untraced(
    createServer(
      {
        maxHeaderSize: SERVER_LIMITS.maxHeaderSize,
        requestTimeout: SERVER_LIMITS.requestTimeout,
        // How often the two timeouts are enforced (Node's default is every 30 s).
        connectionsCheckingInterval: 1000,
      },
      (req, res) => {
        handle(req, res, config, health, counts).catch((err) => {
          warnRateLimited('health-server', `health endpoint failed: ${describeError(err)}`);
          if (!res.headersSent) send(res, 500, { status: 'error' });
          else res.destroy();
        });
      },
    ),
  );
  server.headersTimeout = SERVER_LIMITS.headersTimeout;
  server.keepAliveTimeout = SERVER_LIMITS.keepAliveTimeout;
  server.maxConnections = SERVER_LIMITS.maxConnections;
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
  const close = async () => {
    await new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    });
    await depth.close();
  };
  health.onStop(close);
  return { server, listening, close };
}

async function handle(
  req: IncomingMessage,
  res: ServerResponse,
  config: JobwatchConfig,
  health: Health,
  counts: QueueDepth,
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
      return ready(res, config, health);
    case '/health/queues': {
      if (config.healthToken && !bearerMatches(req.headers.authorization, config.healthToken)) {
        res.setHeader('WWW-Authenticate', 'Bearer');
        return send(res, 401, { status: 'unauthorized' });
      }
      const [snapshot, queues] = await Promise.all([
        health.view.snapshot(),
        withTimeout(counts.counts(), config.collectTimeoutMs * 2, 'queue counts').catch(() => ({})),
      ]);
      const report = buildReport(snapshot, queues);
      return send(res, report.status === 'healthy' ? 200 : 503, report);
    }
    default:
      return send(res, 404, { status: 'not found' });
  }
}

interface Pingable {
  ping?(): Promise<unknown>;
}

async function ready(res: ServerResponse, config: JobwatchConfig, health: Health): Promise<void> {
  const sources = health.connections.appSources();
  const errors: string[] = [];
  await Promise.all(
    sources.map((source) => {
      const { ping } = source.client as Pingable;
      if (typeof ping !== 'function') return undefined; // a client that cannot say: its status was usable
      return withTimeout(ping.call(source.client), config.collectTimeoutMs, 'Redis').catch(
        (err) => {
          errors.push(`${source.prefix}: ${describeError(err)}`);
        },
      );
    }),
  );
  const ok = errors.length === 0;
  send(res, ok ? 200 : 503, {
    status: ok ? 'ready' : 'unavailable',
    timestamp: new Date().toISOString(),
    redis: { servers: sources.length, errors },
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
