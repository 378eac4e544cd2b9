// A bound on the health server's open connections that never locks out a
// probe: past the bound, a new connection evicts the oldest one that has no
// request in flight (an idle keep-alive, or a client that never finishes its
// headers), instead of being refused. So 64 idle or slow connections, or
// 10,000, cost the server at most `limit` sockets, and /health/live still
// answers the next probe at once.

import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';

export function evictIdleBeyond(server: Server, limit: number): void {
  /** Open sockets, oldest first, and whether a request is in flight on each. */
  const sockets = new Map<Socket, { busy: boolean }>();
  server.on('connection', (socket: Socket) => {
    sockets.set(socket, { busy: false });
    socket.once('close', () => sockets.delete(socket));
    if (sockets.size <= limit) return;
    for (const [open, state] of sockets) {
      if (open !== socket && !state.busy) {
        open.destroy();
        return;
      }
    }
  });
  server.on('request', (req: IncomingMessage, res: ServerResponse) => {
    const state = sockets.get(req.socket);
    if (!state) return;
    state.busy = true;
    res.once('close', () => {
      state.busy = false;
    });
  });
}
