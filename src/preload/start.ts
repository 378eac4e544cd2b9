// Starting jobwatch once per process, from the preload or from app code
// (`import { start } from 'jobwatch'`, before the app loads bullmq). It must
// never be the reason an app fails to start, so everything is guarded, and
// when jobwatch is disabled nothing past the configuration is even loaded.

import { realpathSync } from 'node:fs';
import { join } from 'node:path';
import * as workerThreads from 'node:worker_threads';
import { loadConfig } from '../config.js';
import { describeError, logError } from '../log.js';

const STARTED = Symbol.for('jobwatch.started');
const CLI = join(__dirname, '..', 'cli', 'main.js');

/**
 * jobwatch's own CLI (a container healthcheck, the monitor sidecar) inherits
 * the app's NODE_OPTIONS preload. It is not the app: a second jobwatch there
 * would bind the app's metrics port and trace the check's own Redis reads.
 */
export function isJobwatchCli(): boolean {
  const script = process.argv[1];
  if (!script) return false;
  try {
    return realpathSync(script) === CLI;
  } catch {
    return false;
  }
}

/**
 * Node's module-hooks thread runs the process's --require preloads too: it
 * loads modules for the app and must not start a jobwatch (nor register
 * hooks a second time). `isInternalThread` exists from Node 22.14; before,
 * that thread is the one worker without a parent port.
 */
function isNodeInternalThread(): boolean {
  const { isInternalThread, isMainThread, parentPort } = workerThreads as typeof workerThreads & {
    isInternalThread?: boolean;
  };
  return isInternalThread ?? (!isMainThread && parentPort === null);
}

/** Starts jobwatch with the configuration from the environment; later calls do nothing. */
export function start(): void {
  const global = globalThis as Record<symbol, unknown>;
  if (global[STARTED]) return; // preloaded twice, or preloaded and started from code
  global[STARTED] = true;
  if (isJobwatchCli() || isNodeInternalThread()) return;
  try {
    const config = loadConfig();
    if (!config.enabled) return;
    const { startJobwatch } = require('./sdk.js') as typeof import('./sdk.js');
    startJobwatch(config);
  } catch (err) {
    logError(`could not start; the app runs without jobwatch: ${describeError(err)}`);
  }
}
