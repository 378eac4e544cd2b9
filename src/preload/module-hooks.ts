// Where the ES module loader comes from: the import-in-the-middle copy that
// the SDK's @opentelemetry/instrumentation uses, found as the NodeSDK resolves
// it. The loader and the instrumentations' hooks must share that one copy: a
// loader from another copy would wrap modules that no hook ever hears of.
// Resolving loads nothing, so the preload can ask before the app starts.

import { createRequire } from 'node:module';
import { pathToFileURL } from 'node:url';

const fromSdk = createRequire(require.resolve('@opentelemetry/sdk-node'));
const instrumentationPath = fromSdk.resolve('@opentelemetry/instrumentation');

/** The loader to pass to module.register(): @opentelemetry/instrumentation/hook.mjs. */
export const LOADER_URL = pathToFileURL(
  fromSdk.resolve('@opentelemetry/instrumentation/hook.mjs'),
).href;

type Iitm = typeof import('import-in-the-middle');

/** import-in-the-middle itself (for its message channel), loaded on demand. */
export function importInTheMiddle(): Iitm {
  return createRequire(instrumentationPath)('import-in-the-middle') as Iitm;
}
