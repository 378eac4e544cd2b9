// `node --import jobwatch/register app.mjs`: the ESM form of the preload. ES
// modules are hooked through a loader registered before the app's own imports
// run; the rest is the CommonJS preload, so both forms share one jobwatch.

import { register } from 'node:module';
import { loadConfig } from './config.js';

if (loadConfig().enabled) {
  register('@opentelemetry/instrumentation/hook.mjs', import.meta.url);
}
await import('./register.js');
