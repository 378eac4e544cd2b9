// What `jobwatch check` and `jobwatch status` exit with: one code per answer,
// so a container healthcheck, a cron job or a Nagios-style monitor can tell
// "down" from "cannot say" (Docker counts any code but 0 as unhealthy).

import type { HealthStatus } from '../health/report.js';

export const EXIT = {
  /** Every worker has a live instance (degraded too: dead instances beside live ones). */
  healthy: 0,
  /** A worker is dead or hung. */
  unhealthy: 1,
  /** A usage error: the command line itself is wrong. */
  usage: 2,
  /** Nothing to judge: the registry did not answer, was empty, or matched no worker. */
  unknown: 3,
} as const;

export function exitCodeOf(status: HealthStatus | undefined): number {
  switch (status) {
    case 'healthy':
    case 'degraded':
      return EXIT.healthy;
    case 'unhealthy':
      return EXIT.unhealthy;
    default:
      return EXIT.unknown;
  }
}
