// Every child process the benchmark starts (workloads and redis-server) is
// registered here and killed when the orchestrator exits, however it exits.
import { execFileSync, spawn } from 'node:child_process';

const live = new Set();

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

function works(file, args, expected) {
  try {
    return (
      execFileSync(file, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim() ===
      expected
    );
  } catch {
    return false;
  }
}

let placement;
/**
 * How benchmark processes are placed: pinned to their core with taskset (a
 * 2-core machine or bigger), and given a higher scheduling priority (nice -10,
 * where allowed) so that other work on the machine disturbs the figures less.
 */
export function processPlacement() {
  placement ??= {
    pin: works('taskset', ['-c', '0,1', 'echo', 'ok'], 'ok'),
    nice: works('nice', ['-n', String(NICE), 'nice'], String(NICE)),
  };
  return placement;
}

const NICE = -10;

/** Spawns `command` placed on `core` (when possible) and tracks it until it exits. */
export function spawnTracked(command, args, { core, ...options }) {
  const { pin, nice } = processPlacement();
  let argv = [command, ...args];
  if (core !== undefined && pin) argv = ['taskset', '-c', String(core), ...argv];
  if (core !== undefined && nice) argv = ['nice', '-n', String(NICE), ...argv];
  const child = spawn(argv[0], argv.slice(1), options);
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
