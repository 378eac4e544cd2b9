// One Redis server (host:port/db, or a cluster's seeds) and the clients that
// reach it: the app's BullMQ clients, and jobwatch's own connection if one is
// configured. Any open client serves every registry and queue of the server.
//
// A client whose jobwatch call has gone unanswered for longer than
// `stuckAfterMs` is routed around: a half-open socket (after a failover, say)
// hangs every command sent on it without an error, and BullMQ's own client can
// be that client. jobwatch's calls then go through another open client of the
// server, or through a fresh connection of jobwatch's own (a copy of the
// app's, replaced if it hangs too), so a worker whose BullMQ connections are
// wedged keeps beating and can say that it is hung, rather than going silent.

import { describeError, warnRateLimited } from '../../log.js';
import { isUsable, type RedisScriptClient } from './client.js';
import { holdNothingOpen } from './owned.js';

type Closable = RedisScriptClient & {
  disconnect(): void;
  on(event: string, listener: (...a: any[]) => void): unknown;
};

export class Server {
  private clients: RedisScriptClient[] = [];
  /** The last client seen, kept even when closed: a closing worker's final write copies it. */
  last: RedisScriptClient | undefined;
  /** When each client's oldest unanswered jobwatch call began (Date.now()). */
  private readonly waiting = new Map<RedisScriptClient, number[]>();
  /** jobwatch's own connection while the app's hang. */
  private fresh: Closable | undefined;

  constructor(
    readonly identity: string,
    private readonly stuckAfterMs: number,
    private readonly holdsProcess: boolean,
  ) {}

  add(client: RedisScriptClient): void {
    // Apps that open a Queue per request must not make this list grow.
    this.clients = this.clients.filter((c) => c !== client && isUsable(c));
    this.clients.push(client);
    this.last = client;
  }

  /** True while some client of the app's (or jobwatch's) is open. */
  get reachable(): boolean {
    return this.clients.some(isUsable);
  }

  /** The client for jobwatch's next call: an open one that answers, else a fresh connection. */
  client(now = Date.now()): RedisScriptClient | undefined {
    const open = this.clients.filter(isUsable);
    if (open.length === 0) return undefined;
    const answering = open.find((c) => !this.stuck(c, now));
    if (answering) {
      // The app's connection answers again: jobwatch's own is no longer needed, and
      // closing it settles whatever still waits on it.
      if (this.fresh) this.close();
      return answering;
    }
    if (this.fresh && isUsable(this.fresh) && !this.stuck(this.fresh, now)) return this.fresh;
    return this.replaceFresh() ?? open[0];
  }

  /** Runs one jobwatch call on `client`, noting how long it goes unanswered. */
  call<T>(client: RedisScriptClient, work: () => Promise<T>): Promise<T> {
    const started = Date.now();
    let list = this.waiting.get(client);
    if (!list) {
      list = [];
      this.waiting.set(client, list);
    }
    list.push(started);
    const answered = () => {
      const i = list.indexOf(started);
      if (i >= 0) list.splice(i, 1);
      if (list.length === 0) this.waiting.delete(client);
    };
    const result = work();
    result.then(answered, answered);
    return result;
  }

  /** Closes jobwatch's own connection (the app is done with this server). */
  close(): void {
    this.fresh?.disconnect();
    this.fresh = undefined;
  }

  private stuck(client: RedisScriptClient, now: number): boolean {
    const oldest = this.waiting.get(client)?.[0];
    return oldest !== undefined && now - oldest > this.stuckAfterMs;
  }

  /** A new connection of jobwatch's own, copied from the newest client; the old one (hung too) ends. */
  private replaceFresh(): RedisScriptClient | undefined {
    const source = this.last;
    if (typeof source?.duplicate !== 'function') return undefined;
    this.fresh?.disconnect(); // its unanswered calls fail now, instead of waiting forever
    this.waiting.delete(this.fresh as RedisScriptClient);
    const copy = source.duplicate() as Closable;
    copy.on('error', (err: unknown) =>
      warnRateLimited(
        `redis-fresh:${this.identity}`,
        `Redis ${this.identity}: ${describeError(err)}`,
      ),
    );
    if (!this.holdsProcess) holdNothingOpen(copy);
    warnRateLimited(
      `redis-stuck:${this.identity}`,
      `Redis ${this.identity} has not answered jobwatch on the app's connection for ${(this.stuckAfterMs / 1000).toFixed(1)} s (a half-open socket?): using a fresh connection`,
    );
    this.fresh = copy;
    return copy;
  }
}
