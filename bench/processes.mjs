// Every child process the benchmark starts (workloads and redis-server) is
// registered here and killed when the orchestrator exits, however it exits.
import { execFileSync, spawn } from 'node:child_process';

const live = new Set();
let pinning;

function killAll() {
  for (const child of live) {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  }
  live.clear();
}

process.on('exit', killAll);
for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
  process.on(signal, () => {
    killAll();
    process.exit(128 + constants.signals[signal]);
  });
}

/** Whether `taskset` can pin to cores 0 and 1 here (a 2-core machine or bigger). */
export function canPin() {
  if (pinning === undefined) {
    try {
      execFileSync('taskset', ['-c', '0,1', 'true'], { stdio: 'ignore' });
      pinning = true;
    } catch {
      pinning = false;
    }
  }
  return pinning;
}

/** Spawns `command` pinned to `core` (when possible) and tracks it until it exits. */
export function spawnTracked(command, args, { core, ...options }) {
  const [file, argv] =
    core !== undefined && canPin()
      ? ['taskset', ['-c', String(core), command, ...args]]
      : [command, args];
  const child = spawn(file, argv, options);
  live.add(child);
  child.once('exit', () => live.delete(child));
  return child;
}

/** Resolves with {code, signal, stderr} when the child exits; kills it after timeoutMs. */
export function waitForExit(child, timeoutMs) {
  let stderr = '';
  child.stderr?.on('data', (chunk) => {
    stderr = (stderr + chunk).slice(-8000);
  });
  child.stdout?.resume();
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      stderr += `\n[bench] killed after ${timeoutMs} ms`;
      child.kill('SIGKILL');
    }, timeoutMs);
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stderr });
    });
  });
}
