// Where the benchmark runs, and how its processes share the cores.
import { execFileSync } from 'node:child_process';
import { availableParallelism, cpus } from 'node:os';
import { processPlacement } from './processes.mjs';

// Node on core 0, redis-server (and the orchestrator) on core 1.
export const CORES = { node: 0, redis: 1 };

export function machine(redisVersion) {
  return (
    `${availableParallelism()} CPUs (${cpus()[0]?.model ?? 'unknown'}), node ${process.version}, ` +
    `redis-server ${redisVersion}`
  );
}

export function pinning() {
  const { pin, nice } = processPlacement();
  const where = pin
    ? `node pinned to core ${CORES.node}, redis-server to core ${CORES.redis} (taskset)`
    : 'no core pinning (taskset unavailable)';
  return `${where}${nice ? ', both at nice -10' : ''}.`;
}

export function commandLine() {
  return `node bench/run.mjs ${process.argv.slice(2).join(' ')}`.trim();
}

/** The commit jobwatch was built from, "+ changes" when the work tree differs. */
export function revision() {
  const git = (...args) =>
    execFileSync('git', args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
  try {
    return `${git('rev-parse', '--short', 'HEAD')}${git('status', '--porcelain', '--', 'src') ? ' + changes in src/' : ''}`;
  } catch {
    return 'unknown';
  }
}
