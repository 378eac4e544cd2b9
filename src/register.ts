// `node --require jobwatch/register app.js`: turns on jobwatch for the whole
// process with no code change. It must never be the reason an app fails to
// start, so everything is guarded, and when jobwatch is disabled nothing past
// the configuration is even loaded.

import { loadConfig } from './config.js';
import { describeError, logError } from './log.js';

const STARTED = Symbol.for('jobwatch.register.started');

function register(): void {
  const global = globalThis as Record<symbol, unknown>;
  if (global[STARTED]) return; // preloaded twice, e.g. by both --require and --import
  global[STARTED] = true;
  const config = loadConfig();
  if (!config.enabled) return;
  const { startJobwatch } = require('./sdk.js') as typeof import('./sdk.js');
  startJobwatch(config);
}

try {
  register();
} catch (err) {
  logError(`could not start; the app runs without jobwatch: ${describeError(err)}`);
}
