#!/usr/bin/env node
// `jobwatch check | status | monitor`: worker health from a shell, a docker
// HEALTHCHECK or a sidecar. Reads the same registry with the same rule as
// every other view (src/health), so it never disagrees with worker_status.

import { parseArgs } from 'node:util';
import { loadConfig } from '../config.js';
import { describeError } from '../log.js';
import { ownedRedisHoldsProcess } from '../redis/owned.js';
import { runCheck } from './check.js';
import { runMonitor } from './monitor.js';
import { runStatus } from './status.js';

export const USAGE = `Usage: jobwatch <command> [options]

Commands:
  check     Print the health report as JSON; exit 0 if healthy, 1 if not
            (Redis unreachable, or a selected worker dead or hung). For docker HEALTHCHECK.
  status    Table of workers (status, last seen, jobs, host, pid) and queue depth.
  monitor   Run the registry view as a standalone exporter: worker_status and
            queue depth on /metrics (a sidecar for setups with no other view).

Options:
  --redis <url>      Redis to read (default JOBWATCH_REDIS_URL, else redis://127.0.0.1:6379)
  --postgres <url>   BullMQ 6 PostgreSQL database to read (default JOBWATCH_POSTGRES_URL;
                     ?schema=<name> for a schema other than bullmq); Redis is then read
                     only when --redis or JOBWATCH_REDIS_URL is set
  --prefix <prefix>  BullMQ key prefix (default JOBWATCH_QUEUE_PREFIX, else bull)
  --queue <name>     Only workers of this queue, and show its depth (repeatable)
  --worker <name>    Only this worker name (repeatable)
  --this-host        Only instances running on this host (e.g. this container)
  --url <url>        check: ask a process's health endpoint (.../health/queues) instead of Redis;
                     the default when JOBWATCH_HEALTH_PORT is set and --redis is not
  --token <token>    Bearer token for --url (default JOBWATCH_HEALTH_TOKEN)
  --timeout <ms>     Give up after this long, as unhealthy (default 5000)
  --json             status: print JSON instead of a table
  --port <port>      monitor: /metrics port (default OTEL_EXPORTER_PROMETHEUS_PORT, else 9464)
  -h, --help         Show this help

Exit codes: 0 healthy / done, 1 unhealthy or timed out, 2 usage error.
`;

export interface CliOptions {
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

function parse(argv: string[]): { command: string | undefined; options: CliOptions } {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      redis: { type: 'string' },
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
    },
  });
  if (values.help) return { command: 'help', options: undefined as never };
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
  return {
    command: positionals[0],
    options: {
      redis: values.redis ?? config.redisUrl ?? (postgres ? undefined : 'redis://127.0.0.1:6379'),
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

async function main(argv: string[]): Promise<number> {
  let parsed: ReturnType<typeof parse>;
  try {
    parsed = parse(argv);
  } catch (err) {
    process.stderr.write(`jobwatch: ${describeError(err)}\n\n${USAGE}`);
    return 2;
  }
  switch (parsed.command) {
    case 'check':
      return runCheck(parsed.options);
    case 'status':
      return runStatus(parsed.options);
    case 'monitor':
      return runMonitor(parsed.options);
    case 'help':
    case undefined:
      process.stdout.write(USAGE);
      return parsed.command === 'help' ? 0 : 2;
    default:
      process.stderr.write(`jobwatch: unknown command "${parsed.command}"\n\n${USAGE}`);
      return 2;
  }
}

ownedRedisHoldsProcess();
main(process.argv.slice(2)).then(
  (code) => {
    // monitor keeps running (it returns -1); the others end now, whatever sockets linger.
    if (code >= 0) process.exit(code);
  },
  (err) => {
    process.stderr.write(`jobwatch: ${describeError(err)}\n`);
    process.exit(1);
  },
);
