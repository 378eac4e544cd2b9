// Starting jobwatch once per process, from the preload or from app code
// (`import { start } from 'jobwatch'`, before the app loads bullmq). It must
// never be the reason an app fails to start, so everything is guarded, and
// when jobwatch is disabled nothing past the configuration is even loaded.

import { loadConfig } from './config.js';
import { describeError, logError } from './log.js';

const STARTED = Symbol.for('jobwatch.started');

/** Starts jobwatch with the configuration from the environment; later calls do nothing. */
export function start(): void {
  const global = globalThis as Record<symbol, unknown>;
  if (global[STARTED]) return; // preloaded twice, or preloaded and started from code
  global[STARTED] = true;
  try {
    const config = loadConfig();
    if (!config.enabled) return;
    const { startJobwatch } = require('./sdk.js') as typeof import('./sdk.js');
    startJobwatch(config);
  } catch (err) {
    logError(`could not start; the app runs without jobwatch: ${describeError(err)}`);
  }
}
