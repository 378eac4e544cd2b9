// jobwatch's own HTTP servers (/metrics, the health endpoints, the monitor)
// must not trace themselves: every scrape and probe would otherwise become a
// root server span, thousands of junk traces a day per process. HTTP
// instrumentations (ours, or the app's SDK's) wrap `Server.prototype.emit`;
// a server of ours gets the emit from before any wrapping as its own.

import { Server } from 'node:http';

type Emit = Server['emit'] & { __original?: Server['emit'] };

/** Gives `server` the unwrapped `emit`, so no HTTP instrumentation sees its requests. */
export function untraced<T extends Server>(server: T): T {
  let emit = Server.prototype.emit as Emit;
  while (typeof emit.__original === 'function') emit = emit.__original;
  server.emit = emit;
  return server;
}
