// jobwatch's own HTTP servers (/metrics, the health endpoints, the monitor)
// must not trace themselves: every scrape and probe would otherwise become a
// root server span, thousands of junk traces a day per process. jobwatch's
// HTTP tracing skips servers marked here; an app SDK's HTTP instrumentation
// (which jobwatch joins) wraps `Server.prototype.emit`, so a server of ours
// also gets the emit from before any wrapping as its own.

import { Server } from 'node:http';

type Emit = Server['emit'] & { __original?: Server['emit'] };

const UNTRACED = Symbol.for('jobwatch.untraced');

/** Makes `server` invisible to every HTTP instrumentation (jobwatch's and an app SDK's). */
export function untraced<T extends Server>(server: T): T {
  let emit = Server.prototype.emit as Emit;
  while (typeof emit.__original === 'function') emit = emit.__original;
  server.emit = emit;
  (server as unknown as Record<symbol, boolean>)[UNTRACED] = true;
  return server;
}

export function isUntraced(server: Server): boolean {
  return (server as unknown as Record<symbol, boolean | undefined>)[UNTRACED] === true;
}
