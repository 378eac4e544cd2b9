// What else runs in this process that decides how jobwatch starts: another
// OpenTelemetry SDK, the auto-instrumentations' preload, or a BullMQ sandbox.

import { createRequire } from 'node:module';
import { join } from 'node:path';
import { isMainThread } from 'node:worker_threads';
import { guard } from '../log.js';

/**
 * The OpenTelemetry API keeps its global providers under this symbol; if a
 * tracer or meter provider is there, another SDK (e.g. auto-instrumentations-
 * node's register) was started first and jobwatch must not register a second
 * one. A NodeSDK started with OTEL_TRACES_EXPORTER=none registers only its
 * meter provider (and serves /metrics itself).
 */
export function otelAlreadyStarted(): boolean {
  const globals = (
    globalThis as Record<symbol, { trace?: unknown; metrics?: unknown } | undefined>
  )[Symbol.for('opentelemetry.js.api.1')];
  return globals?.trace !== undefined || globals?.metrics !== undefined;
}

// With @opentelemetry/auto-instrumentations-node, one SDK serves both, and it
// is the same in either order of the preloads:
//   --require @opentelemetry/auto-instrumentations-node/register --require jobwatch/register
//     its SDK starts first; jobwatch finds it and adds only BullMQ's instrumentation;
//   --require jobwatch/register --require @opentelemetry/auto-instrumentations-node/register
//     jobwatch loads that register itself before deciding, so it starts first
//     here too; Node's module cache makes the later preload a no-op.
// Either way its providers, exporters (OTEL_* variables; metrics default to
// OTLP there) and HTTP/ioredis instrumentations serve the app; jobwatch adds
// BullMQ spans, its metrics and worker health, and BullMQ's own Redis
// commands stay suppressed. (Only the --require form is loaded early: an
// `--import` of the register is an ES module jobwatch cannot run ahead of time.)
const AUTO_REGISTER = '@opentelemetry/auto-instrumentations-node/register';

/** The `--require` preloads of this process (command line and NODE_OPTIONS). */
function requiredPreloads(): string[] {
  const args = [...process.execArgv, ...(process.env.NODE_OPTIONS ?? '').split(/\s+/)];
  const preloads: string[] = [];
  args.forEach((arg, i) => {
    if (arg === '--require' || arg === '-r') preloads.push(args[i + 1] ?? '');
    else if (arg.startsWith('--require=')) preloads.push(arg.slice('--require='.length));
  });
  return preloads;
}

/** Runs the auto-instrumentations' register now if it is a later preload, resolved as Node resolves preloads. */
export function startAutoInstrumentationsFirst(): void {
  if (otelAlreadyStarted() || !requiredPreloads().includes(AUTO_REGISTER)) return;
  guard('auto-instrumentations register', () =>
    createRequire(join(process.cwd(), 'preload.js'))(AUTO_REGISTER),
  );
}

/**
 * A BullMQ sandbox: the child process (BullMQ's main.js) or worker thread
 * that runs a processor file. It inherits the preload, and only traces: the
 * metrics port, heartbeats and health belong to the parent that owns the
 * Worker. Any other worker thread is treated the same way (one /metrics port
 * per process, not per thread).
 */
export function inSandbox(): boolean {
  return (
    !isMainThread ||
    /[\\/]bullmq[\\/]dist[\\/]cjs[\\/]classes[\\/]main\.js$/.test(process.argv[1] ?? '')
  );
}
