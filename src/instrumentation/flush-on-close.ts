// An app that handles SIGTERM itself usually ends with
// `await worker.close(); process.exit(0)`. The exit would cut off the export
// of the last jobs' spans, so Worker.close resolves only after a flush of the
// global tracer and meter providers, bounded so that a slow or dead exporter
// delays shutdown by at most FLUSH_TIMEOUT_MS. Nothing else about close changes.

import { metrics, trace } from '@opentelemetry/api';

const FLUSH_TIMEOUT_MS = 2000;

interface Flushable {
  forceFlush?(): Promise<void>;
  getDelegate?(): Flushable;
}

export function flushProviders(): Promise<void> {
  const providers = [trace.getTracerProvider(), metrics.getMeterProvider()] as Flushable[];
  const flushes = providers.map((p) => {
    const provider = p.getDelegate?.() ?? p;
    return provider.forceFlush?.().catch(() => undefined);
  });
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<void>((resolve) => {
    timer = setTimeout(resolve, FLUSH_TIMEOUT_MS);
  });
  return Promise.race([Promise.all(flushes).then(() => undefined), timeout]).finally(() =>
    clearTimeout(timer),
  );
}

export function wrapClose() {
  return (original: (this: unknown, ...args: unknown[]) => Promise<unknown>) =>
    function close(this: unknown, ...args: unknown[]) {
      return original.apply(this, args).then(async (result) => {
        await flushProviders();
        return result;
      });
    };
}
