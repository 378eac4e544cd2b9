// Flushing telemetry at the end of a process without changing how the app
// ends. Node's default for SIGTERM/SIGINT is to die at once; merely adding a
// listener would cancel that default and keep the process alive. So when the
// app has no handler of its own, jobwatch flushes (bounded) and then re-raises
// the signal to get the default death. When the app does handle the signal,
// jobwatch stays out of the way: the app decides when and how to exit, and
// telemetry is flushed when its workers close and again before a natural exit.
// jobwatch never calls process.exit.

import { describeError, warnRateLimited } from '../log.js';

export type ShutdownHook = () => Promise<void> | void;

const SIGNALS = ['SIGTERM', 'SIGINT'] as const;

export class Shutdown {
  private readonly hooks: ShutdownHook[] = [];
  private readonly finalHooks: ShutdownHook[] = [];
  private running: Promise<void> | undefined;

  constructor(private readonly timeoutMs: number) {}

  /** Runs `fn` once when the process ends (hooks run in registration order, bounded in total). */
  add(fn: ShutdownHook): void {
    this.hooks.push(fn);
  }

  /** Runs `fn` after every `add`ed hook, e.g. the SDK's own flush of what they wrote. */
  addFinal(fn: ShutdownHook): void {
    this.finalHooks.push(fn);
  }

  /** Runs every hook once; later calls share the first run. Never rejects. */
  run(): Promise<void> {
    this.running ??= withTimeout(this.runHooks(), this.timeoutMs);
    return this.running;
  }

  private async runHooks(): Promise<void> {
    for (const hook of [...this.hooks, ...this.finalHooks]) {
      try {
        await hook();
      } catch (err) {
        warnRateLimited('shutdown', `shutdown step failed (ignored): ${describeError(err)}`);
      }
    }
  }

  /** Installs the signal and beforeExit handlers described above. */
  install(): void {
    for (const signal of SIGNALS) {
      const onSignal = () => {
        process.removeListener(signal, onSignal);
        if (process.listenerCount(signal) > 0) return; // the app owns this signal
        void this.run().finally(() => process.kill(process.pid, signal));
      };
      process.on(signal, onSignal);
    }
    process.once('beforeExit', () => void this.run());
  }
}

function withTimeout(work: Promise<void>, ms: number): Promise<void> {
  return new Promise<void>((resolve) => {
    const timer = setTimeout(resolve, ms);
    timer.unref();
    void work.finally(() => {
      clearTimeout(timer);
      resolve();
    });
  });
}
