// A TCP proxy between a client and Redis that can freeze: every connection it
// carries stops forwarding in both directions while both sockets stay open,
// which is how a connection looks when its peer vanished without FIN or RST
// (a half-open socket after a failover, a dropped NAT entry, a dead VM). No
// error reaches the client: its commands simply never get an answer.
//
// Connections opened after the freeze are carried as usual (a failover: the
// address now reaches a healthy server). While frozen, bytes from either side
// are dropped, and one side's end or close is not passed on to the other.
// Limit: this machine's kernel still ACKs and answers keepalive probes, so TCP
// keepalive never fires here (it would, after minutes, on a real dead path).
import { connect, createServer, type Server, type Socket } from 'node:net';

interface Pair {
  client: Socket;
  upstream: Socket;
  frozen: boolean;
}

export class FreezingProxy {
  private readonly pairs = new Set<Pair>();
  private server: Server | undefined;
  /** Connections accepted so far (a client that reconnects, or opens another, counts again). */
  accepted = 0;
  port = 0;

  private constructor(
    private readonly targetPort: number,
    private readonly targetHost: string,
  ) {}

  static async start(targetPort: number, targetHost = '127.0.0.1'): Promise<FreezingProxy> {
    const proxy = new FreezingProxy(targetPort, targetHost);
    proxy.server = createServer({ allowHalfOpen: true }, (client) => proxy.carry(client));
    await new Promise<void>((resolve) => proxy.server!.listen(0, '127.0.0.1', resolve));
    proxy.port = (proxy.server.address() as { port: number }).port;
    return proxy;
  }

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  /** Every connection open now goes silent, for good; later ones are carried. */
  freeze(): void {
    for (const pair of this.pairs) pair.frozen = true;
  }

  async close(): Promise<void> {
    for (const { client, upstream } of this.pairs) {
      client.destroy();
      upstream.destroy();
    }
    await new Promise<void>((resolve) => this.server?.close(() => resolve()));
  }

  private carry(client: Socket): void {
    this.accepted++;
    const upstream = connect({ port: this.targetPort, host: this.targetHost, allowHalfOpen: true });
    const pair: Pair = { client, upstream, frozen: false };
    this.pairs.add(pair);
    for (const [from, to] of [
      [client, upstream],
      [upstream, client],
    ] as const) {
      from.on('error', () => undefined);
      from.on('data', (chunk) => {
        if (!pair.frozen) to.write(chunk);
      });
      from.on('end', () => {
        if (!pair.frozen) to.end();
      });
      from.on('close', () => {
        if (pair.frozen) return; // close() ends the other side
        to.destroy();
        this.pairs.delete(pair);
      });
    }
  }
}
