// Real node processes started the way users start them: with the jobwatch
// preload on the command line. Output is captured for assertions, and every
// process is killed when the test file ends.
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { resolve } from 'node:path';

export const repoRoot = resolve(__dirname, '../..');

export class NodeProcess {
  stdout = '';
  stderr = '';
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;

  constructor(readonly child: ChildProcess) {
    child.stdout?.on('data', (d) => {
      this.stdout += d;
    });
    child.stderr?.on('data', (d) => {
      this.stderr += d;
    });
    this.exited = once(child, 'exit').then(([code, signal]) => ({ code, signal }));
  }

  get pid(): number {
    return this.child.pid!;
  }

  get running(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  /** Sends `signal` and waits (bounded) for the process to exit. */
  async stop(signal: NodeJS.Signals = 'SIGTERM', timeoutMs = 10_000) {
    if (!this.running) return this.exited;
    this.child.kill(signal);
    const timer = setTimeout(() => this.child.kill('SIGKILL'), timeoutMs);
    try {
      return await this.exited;
    } finally {
      clearTimeout(timer);
    }
  }
}

const started = new Set<NodeProcess>();

/** Spawns `node <args>` in `cwd` (default: the repository root) with `env` added to this process's environment. */
export function spawnNode(
  args: string[],
  env: Record<string, string | undefined> = {},
  cwd = repoRoot,
): NodeProcess {
  const child = spawn(process.execPath, args, {
    cwd,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const proc = new NodeProcess(child);
  started.add(proc);
  void proc.exited.then(() => started.delete(proc));
  return proc;
}

/** Kills every process this test file started: at the end of every file (test/kill-leftovers.ts), and earlier from an afterAll that must stop apps before their servers. */
export async function killAll(): Promise<void> {
  await Promise.all([...started].map((p) => p.stop('SIGKILL')));
}
