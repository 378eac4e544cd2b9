// Shared plumbing for the real servers tests start (Prometheus, Alertmanager):
// a fresh directory for config and data, a free port, a wait for /-/ready, the
// captured output for failure messages, and cleanup on stop().
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Exited, freePort, onFreshPorts, waitFor } from './ports.js';

/** Spawns a child whose output is kept (the last 20 kB) for failure messages. */
export function spawnLogged(
  command: string,
  args: string[],
): { child: ChildProcess; log: () => string } {
  const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  const keep = (chunk: Buffer) => {
    output = (output + chunk.toString()).slice(-20_000);
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  return { child, log: () => output };
}

/** SIGTERM, then SIGKILL after 5 s; resolves when the child has exited. */
export async function stopChild(child: ChildProcess | undefined): Promise<void> {
  if (!child || child.exitCode !== null || child.signalCode !== null) return;
  await new Promise<void>((resolve) => {
    const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
    child.once('exit', () => {
      clearTimeout(timer);
      resolve();
    });
    child.kill('SIGTERM');
  });
}

export interface DaemonLaunch {
  command: string;
  configName: string;
  configText: string;
  /** The command line, given the working directory, the config file and the port. */
  args: (dir: string, configFile: string, port: number) => string[];
}

export class Daemon {
  readonly port: number;
  readonly log: () => string;
  private readonly dir: string;
  private readonly child: ChildProcess;

  protected constructor(parts: {
    port: number;
    dir: string;
    child: ChildProcess;
    log: () => string;
  }) {
    this.port = parts.port;
    this.dir = parts.dir;
    this.child = parts.child;
    this.log = parts.log;
  }

  /** Starts the daemon and resolves once it answers GET /-/ready. */
  protected static launch(l: DaemonLaunch) {
    return onFreshPorts(() => Daemon.launchOnce(l));
  }

  private static async launchOnce(l: DaemonLaunch) {
    const dir = mkdtempSync(join(tmpdir(), `jobwatch-${l.command}-`));
    const configFile = join(dir, l.configName);
    writeFileSync(configFile, l.configText);
    const port = await freePort();
    const { child, log } = spawnLogged(l.command, l.args(dir, configFile, port));
    try {
      await waitFor(
        async () => {
          if (child.exitCode !== null) throw new Exited(`${l.command} on ${port} exited: ${log()}`);
          return (await fetch(`http://127.0.0.1:${port}/-/ready`)).ok;
        },
        { timeoutMs: 20_000, what: `${l.command} on ${port}` },
      );
    } catch (err) {
      await stopChild(child);
      rmSync(dir, { recursive: true, force: true });
      throw err;
    }
    return { port, dir, child, log };
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  /** host:port, as Prometheus' alerting config wants it. */
  get address(): string {
    return `127.0.0.1:${this.port}`;
  }

  async stop(): Promise<void> {
    await stopChild(this.child);
    rmSync(this.dir, { recursive: true, force: true });
  }
}
