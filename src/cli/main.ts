#!/usr/bin/env node
// `jobwatch check | status | monitor`: worker health from a shell, a docker
// HEALTHCHECK or a sidecar. Reads the same registry with the same rule as
// every other view (src/health), so it never disagrees with worker_status.

import { describeError } from '../log.js';
import { VERSION } from '../version.js';
import { runCheck } from './check.js';
import { EXIT } from './exit-codes.js';
import { runMonitor } from './monitor.js';
import { parseCli, USAGE } from './options.js';
import { runStatus } from './status.js';

async function main(argv: string[]): Promise<number> {
  let parsed: ReturnType<typeof parseCli>;
  try {
    parsed = parseCli(argv);
  } catch (err) {
    process.stderr.write(`jobwatch: ${usageError(err)} (jobwatch --help lists the options)\n`);
    return EXIT.usage;
  }
  switch (parsed.command) {
    case 'check':
      return runCheck(parsed.options);
    case 'status':
      return runStatus(parsed.options);
    case 'monitor':
      return runMonitor(parsed.options);
    case 'version':
      process.stdout.write(`${VERSION}\n`);
      return 0;
    case 'help':
    case undefined:
      process.stdout.write(USAGE);
      return parsed.command === 'help' ? 0 : EXIT.usage;
    default:
      process.stderr.write(
        `jobwatch: unknown command "${parsed.command}" (jobwatch --help lists the commands)\n`,
      );
      return EXIT.usage;
  }
}

/** node:util's parseArgs errors, as one line without their advice for developers. */
function usageError(err: unknown): string {
  const message = err instanceof Error ? err.message : String(err);
  return message.split('. To specify')[0]!.replace(/^TypeError.*?: /, '');
}

main(process.argv.slice(2)).then(
  (code) => {
    // monitor keeps running (it returns -1); the others end now, whatever sockets linger.
    if (code >= 0) process.exit(code);
  },
  (err) => {
    process.stderr.write(`jobwatch: ${describeError(err)}\n`);
    process.exit(EXIT.unknown);
  },
);
