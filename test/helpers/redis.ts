// Every test file gets its own redis-server on a free port, so a fault test
// can stop and restart it without touching anything else on the machine.
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { redisServerArgs } from '../../examples/redis-server-args.mjs';
import { spawnLogged } from './daemon.js';
import { booted, Exited, freePort, onFreshPorts, waitFor } from './ports.js';

export class RedisServer {
  private child: ChildProcess | undefined;
  private readonly dir = mkdtempSync(join(tmpdir(), 'jobwatch-redis-'));

  private constructor(readonly port: number) {}

  static start(): Promise<RedisServer> {
    return onFreshPorts(async () =>
      booted(new RedisServer(await freePort()), (server) => server.resume()),
    );
  }

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  /** ioredis/BullMQ connection options for this server. */
  get connection() {
    return { host: '127.0.0.1', port: this.port, maxRetriesPerRequest: null };
  }

  /** A fresh ioredis client (the caller quits it). */
  client(): Redis {
    return new Redis(this.connection);
  }

  /** Starts (or restarts, on the same port) the server and waits until it answers. */
  async resume(): Promise<void> {
    const { child, log } = spawnLogged('redis-server', redisServerArgs(this.port, this.dir));
    this.child = child;
    const probe = new Redis({
      port: this.port,
      host: '127.0.0.1',
      lazyConnect: true,
      retryStrategy: () => null,
      commandTimeout: 1000, // something else on the port may never answer
    });
    probe.on('error', () => {}); // refused connections are expected until the server is up
    try {
      await waitFor(
        async () => {
          if (child.exitCode !== null)
            throw new Exited(`redis-server on ${this.port} exited: ${log()}`);
          try {
            await probe.connect();
          } catch {
            probe.disconnect();
            return false;
          }
          // Ours, not a server that took the port first (ours then exits).
          return (await probe.info('server')).includes(`process_id:${child.pid}\r`);
        },
        { what: `redis-server on ${this.port}` },
      );
    } finally {
      probe.disconnect();
    }
  }

  /** Stops the server and waits for it to exit. Data is lost (no persistence). */
  async stop(): Promise<void> {
    const child = this.child;
    this.child = undefined;
    if (!child || child.exitCode !== null) return;
    await new Promise<void>((resolve) => {
      child.once('exit', () => resolve());
      child.kill('SIGKILL');
    });
  }

  async close(): Promise<void> {
    await this.stop();
    rmSync(this.dir, { recursive: true, force: true });
  }

  /**
   * Records what clients (not Lua scripts) send to this server, through
   * redis-cli MONITOR, until stop(). Each command is its quoted words, e.g.
   * ['llen', 'bull:storm:wait'].
   */
  async monitor(): Promise<{ stop(): Promise<string[][]> }> {
    const cli = spawn('redis-cli', ['-p', String(this.port), 'monitor'], {
      stdio: ['ignore', 'pipe', 'ignore'],
    });
    let output = '';
    cli.stdout.on('data', (d) => {
      output += d;
    });
    await waitFor(() => output.startsWith('OK'), { what: 'MONITOR' });
    return {
      stop: async () => {
        await new Promise((r) => setTimeout(r, 100)); // the last commands' lines
        cli.kill();
        return output
          .split('\n')
          .filter((line) => /^\d+\.\d+ \[\d+ [^\]l]/.test(line)) // "[0 127.0.0.1:…]", not "[0 lua]"
          .map((line) => [...line.matchAll(/"((?:[^"\\]|\\.)*)"/g)].map((m) => m[1]!));
      },
    };
  }

  /** Total calls per Redis command since the last CONFIG RESETSTAT. */
  async commandStats(): Promise<Map<string, number>> {
    const c = this.client();
    try {
      const info = await c.info('commandstats');
      const stats = new Map<string, number>();
      for (const m of info.matchAll(/^cmdstat_([^:]+):calls=(\d+)/gm))
        stats.set(m[1]!, Number(m[2]));
      return stats;
    } finally {
      c.disconnect();
    }
  }
}
