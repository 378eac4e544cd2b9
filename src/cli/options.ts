// The CLI's options: usage text and parsing (no side effects; bin is main.ts).

import { parseArgs } from 'node:util';
import { type JobwatchConfig, loadConfig } from '../config.js';

export const USAGE = `Usage: jobwatch <command> [options]

Commands:
  check     Print the health report as JSON, and exit with its status (below).
            A worker with dead instances beside a live one is "degraded" (exit 0);
            instances[] and instanceStates say which are down. For docker HEALTHCHECK.
  status    Table of the registries read, the instances (the worker's status and
            the instance's own, state, last seen, jobs, host, pid) and queue depth;
            the same exit codes.
  monitor   Hold the fleet view as a standalone exporter: worker_status,
            bullmq_worker_instances and queue depth on /metrics (a sidecar that
            always holds the lease, so no app process reads the registry).

Options:
  --redis <url>      Redis to read (default JOBWATCH_REDIS_URL, else REDIS_URL, else
                     redis://127.0.0.1:6379); comma-separated seed nodes for a Redis Cluster
  --cluster          --redis is a Redis Cluster (needed only with a single seed node)
  --postgres <url>   BullMQ 6 PostgreSQL database to read (default JOBWATCH_POSTGRES_URL;
                     ?schema=<name> for a schema other than bullmq); Redis is then read
                     only when --redis, JOBWATCH_REDIS_URL or REDIS_URL is set
  --prefix <prefix>  BullMQ key prefix (default JOBWATCH_QUEUE_PREFIX, else bull)
  --queue <name>     Only workers of this queue, and show its depth (repeatable)
  --worker <name>    Only this worker name (repeatable)
  --this-host        Only instances running on this host (e.g. this container)
  --url <url>        check: ask a process's health endpoint (.../health/queues) instead of Redis;
                     the default when JOBWATCH_HEALTH_PORT is set and --redis is not
  --token <token>    Bearer token for --url (default JOBWATCH_HEALTH_TOKEN)
  --timeout <ms>     Give up after this long: unknown (with --url: unhealthy) (default 5000)
  --json             status: print JSON instead of a table
  --port <port>      monitor: /metrics port (default OTEL_EXPORTER_PROMETHEUS_PORT, else 9464)
  -h, --help         Show this help
  -v, --version      Print jobwatch's version

Exit codes: 0 healthy (or degraded) / done, 1 unhealthy (a worker dead or hung, or
            the --url endpoint did not answer), 2 usage error, 3 unknown (a registry
            did not answer or held no worker, nothing matched the selection, or the
            endpoint answered without a report, e.g. 401).
`;

export interface CliOptions {
  /** The environment's settings, read once. */
  config: JobwatchConfig;
  redis: string | undefined;
  postgres: string | undefined;
  prefix: string;
  queues: string[];
  workers: string[];
  thisHost: boolean;
  url: string | undefined;
  token: string | undefined;
  timeoutMs: number;
  json: boolean;
  port: number | undefined;
}

export function parseCli(argv: string[]): { command: string | undefined; options: CliOptions } {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      redis: { type: 'string' },
      cluster: { type: 'boolean' },
      postgres: { type: 'string' },
      prefix: { type: 'string' },
      queue: { type: 'string', multiple: true },
      worker: { type: 'string', multiple: true },
      'this-host': { type: 'boolean' },
      url: { type: 'string' },
      token: { type: 'string' },
      timeout: { type: 'string' },
      json: { type: 'boolean' },
      port: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
      version: { type: 'boolean', short: 'v' },
    },
  });
  if (values.help) return { command: 'help', options: undefined as never };
  if (values.version) return { command: 'version', options: undefined as never };
  const config = loadConfig();
  const timeoutMs = Number(values.timeout ?? 5000);
  if (!Number.isInteger(timeoutMs) || timeoutMs <= 0)
    throw new Error('--timeout expects milliseconds');
  const port = values.port === undefined ? undefined : Number(values.port);
  if (port !== undefined && !(Number.isInteger(port) && port >= 0 && port < 65536)) {
    throw new Error('--port expects a port number');
  }
  const postgres = values.postgres ?? config.postgresUrl;
  const localHealth =
    config.healthPort && !values.redis && !values.postgres
      ? `http://${config.healthHost === '0.0.0.0' ? '127.0.0.1' : config.healthHost}:${config.healthPort}/health/queues`
      : undefined;
  const redis =
    values.redis ??
    config.redisUrl ??
    nonBlank(process.env.REDIS_URL) ??
    (postgres ? undefined : 'redis://127.0.0.1:6379');
  return {
    command: positionals[0],
    options: {
      config,
      // A comma marks a cluster (backends/redis/owned.ts), also for one seed node.
      redis: values.cluster && redis && !redis.includes(',') ? `${redis},` : redis,
      postgres,
      prefix: values.prefix ?? config.queuePrefix,
      queues: values.queue ?? [],
      workers: values.worker ?? [],
      thisHost: values['this-host'] ?? false,
      url: values.url ?? localHealth,
      token: values.token ?? config.healthToken,
      timeoutMs,
      json: values.json ?? false,
      port,
    },
  };
}

function nonBlank(value: string | undefined): string | undefined {
  return value?.trim() ? value.trim() : undefined;
}
