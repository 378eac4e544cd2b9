// What the SDK says about settings and exports, turned into jobwatch's own
// one-line messages: it is silent about both by default.

import { type DiagLogger, DiagLogLevel, diag } from '@opentelemetry/api';
import { describeError, logError, warnRateLimited } from '../log.js';

// An SDK diagnostic that rejects a setting: it names the setting (or only
// "the environment") and says what is wrong with it.
const NAMES_SETTING = /\bOTEL_[A-Z_]+|environment/;
const REJECTS = /\b(invalid|unknown|unrecognized|unsupported|unavailable|could not)\b/i;
/** The OTEL_* settings jobwatch reads (and reports) itself, in src/config.ts. */
const OWN_SETTINGS =
  /\b(OTEL_SDK_DISABLED|OTEL_METRICS_EXPORTER|OTEL_EXPORTER_PROMETHEUS_(HOST|PORT))\b/;

/**
 * The SDK reads most OTEL_* settings itself and reports a value it rejects
 * only through its diagnostic logger, which is silent unless OTEL_LOG_LEVEL
 * is set. While it starts, jobwatch relays its reports of a rejected setting
 * (a few of them say only "environment"), once each, as its own one-line
 * errors; then diag is left as it was.
 */
export function relayingSettingErrors<T>(start: () => T): T {
  if (process.env.OTEL_LOG_LEVEL) return start(); // the SDK's own logger says it all
  const relayed = new Set<string>();
  const relay = (message: string) => {
    const rejects = NAMES_SETTING.test(message) && REJECTS.test(message);
    if (!rejects || OWN_SETTINGS.test(message) || relayed.has(message)) return;
    relayed.add(message);
    logError(message);
  };
  const ignore = () => undefined;
  const logger: DiagLogger = {
    error: relay,
    warn: relay,
    info: ignore,
    debug: ignore,
    verbose: ignore,
  };
  diag.setLogger(logger, { logLevel: DiagLogLevel.WARN, suppressOverrideMessage: true });
  try {
    return start();
  } finally {
    diag.disable();
  }
}

/**
 * The SDK reports a failed export (collector down, 429, 500, timeout) through
 * its global error handler, silently by default. Operators need to hear of it,
 * but once, not once per batch: jobs keep running, and the batch processor's
 * bounded queue drops spans rather than growing.
 */
export function reportExportError(err: unknown): void {
  const endpoint =
    process.env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT ??
    process.env.OTEL_EXPORTER_OTLP_ENDPOINT ??
    'http://localhost:4318';
  warnRateLimited(
    'export',
    `cannot export telemetry to ${endpoint} (${describeError(err)}); jobs are unaffected, telemetry is dropped until it recovers`,
  );
}
