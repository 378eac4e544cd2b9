// ES module hooks for the CommonJS preload. `--require jobwatch/register` is
// what a team sets once in NODE_OPTIONS for every service, ESM or not; without
// a loader, an ESM app's `import 'bullmq'` would bypass require-in-the-middle
// and jobwatch would silently do nothing. So the CommonJS preload registers
// import-in-the-middle's loader too, limited to the modules jobwatch's
// instrumentations hook. (`--import jobwatch/register` registers its own
// loader first, with a message channel, and this one is then skipped.)

import { isBuiltin, register } from 'node:module';
import { pathToFileURL } from 'node:url';
import { describeError, logError } from '../log.js';
import { LOADER_URL } from './module-hooks.js';

const REGISTERED = Symbol.for('jobwatch.esmHooks');

/** Marks the ES module hooks as registered by another path (the `--import` preload). */
export function markEsmHooksRegistered(): void {
  (globalThis as Record<symbol, unknown>)[REGISTERED] = true;
}

/**
 * Registers the loader for `modules` once per process, on Node's hooks
 * thread with a fixed include list (a CommonJS preload cannot wait for a
 * message channel before the app's first import). Not in-thread
 * (`module.registerHooks`): those hooks see every require() too, and
 * import-in-the-middle's in-thread loader breaks `node -e` scripts.
 */
export function registerEsmHooks(modules: string[]): void {
  const global = globalThis as Record<symbol, unknown>;
  if (global[REGISTERED]) return;
  global[REGISTERED] = true;
  const include = withNodePrefixes(modules);
  try {
    register(LOADER_URL, pathToFileURL(__filename), { data: { include } });
  } catch (err) {
    logError(
      `could not register the ES module loader, so ES modules (import 'bullmq') are not instrumented; use --import jobwatch/register: ${describeError(err)}`,
    );
  }
}

/** Builtins are imported as `http` or `node:http`: list both forms. */
function withNodePrefixes(modules: string[]): string[] {
  const out = new Set<string>();
  for (const name of modules) {
    out.add(name);
    if (isBuiltin(name)) out.add(name.startsWith('node:') ? name.slice(5) : `node:${name}`);
  }
  return [...out];
}
