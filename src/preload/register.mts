// `node --import jobwatch/register app.mjs`: the ESM form of the preload. ES
// modules are hooked through import-in-the-middle's loader, registered before
// the app's own imports run. The loader wraps only the modules an enabled
// instrumentation asks for (bullmq, http, …), not every module of the app.
// The rest is the CommonJS preload, so both forms share one jobwatch.

import { register } from 'node:module';
import { parseConfig } from '../config.js';
import { markEsmHooksRegistered } from './esm-hooks.js';
import { importInTheMiddle, LOADER_URL } from './module-hooks.js';
import { isJobwatchCli } from './start.js';

// Only whether to start: the settings are read (and a bad one reported) once, by start().
if (parseConfig(process.env).config.enabled && !isJobwatchCli()) {
  markEsmHooksRegistered();
  const { registerOptions, waitForAllMessagesAcknowledged } =
    importInTheMiddle().createAddHookMessageChannel();
  register(LOADER_URL, import.meta.url, registerOptions);
  await import('./register.js');
  await waitForAllMessagesAcknowledged();
}
