// ES module hooks for the CommonJS preload. `--require jobwatch/register` is
// what a team sets once in NODE_OPTIONS for every service, ESM or not; without
// a loader, an ESM app's `import 'bullmq'` would bypass require-in-the-middle
// and jobwatch would silently do nothing. So the CommonJS preload registers
// import-in-the-middle's loader too, limited to the modules jobwatch's
// instrumentations hook. (`--import jobwatch/register` registers its own
// loader first, with a message channel, and this one is then skipped.)

import { isBuiltin, register } from 'node:module';
import { pathToFileURL } from 'node:url';
import { describeError, logError } from './log.js';

const REGISTERED = Symbol.for('jobwatch.esmHooks');

interface SyncHooksModule {
  supportsSyncHooks(): boolean;
  register(options: { include: string[] }): void;
}

/** Marks the ES module hooks as registered by another path (the `--import` preload). */
export function markEsmHooksRegistered(): void {
  (globalThis as Record<symbol, unknown>)[REGISTERED] = true;
}

/**
 * Registers the loader for `modules` once per process: in-thread
 * (`module.registerHooks`) where this Node's hooks allow it, else on Node's
 * hooks thread with a fixed include list (a CommonJS preload cannot wait for
 * a message channel before the app's first import).
 */
export function registerEsmHooks(modules: string[]): void {
  const global = globalThis as Record<symbol, unknown>;
  if (global[REGISTERED]) return;
  global[REGISTERED] = true;
  const include = withNodePrefixes(modules);
  try {
    if (registerInThread(include)) return;
    register('import-in-the-middle/hook.mjs', pathToFileURL(__filename), { data: { include } });
  } catch (err) {
    logError(
      `could not register the ES module loader, so ES modules (import 'bullmq') are not instrumented; use --import jobwatch/register: ${describeError(err)}`,
    );
  }
}

/** False where this Node can't: no require() of ES modules (before 22.12), or hooks without the fix iitm needs. */
function registerInThread(include: string[]): boolean {
  let sync: SyncHooksModule;
  try {
    sync = require('import-in-the-middle/register-hooks.mjs') as SyncHooksModule;
  } catch {
    return false;
  }
  if (!sync.supportsSyncHooks()) return false;
  sync.register({ include });
  return true;
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
