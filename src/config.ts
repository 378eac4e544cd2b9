// jobwatch's own settings. Everything OpenTelemetry already names (service
// name, exporters, endpoints, sampler, resource) is read from the standard
// OTEL_* variables by the SDK; only what is jobwatch's lives here.
//
// A bad value never takes the app down: it is reported once, in one line that
// names the setting and what it expects, and the default is used instead.

import { logError } from './log.js';

/**
 * How a `process` span relates to the span that enqueued its job.
 * - `auto` (default): child of the producer's span, except for jobs that a
 *   scheduler (or BullMQ 5's legacy `repeat`) creates again and again, and
 *   jobs deeper than `maxChainDepth` in a chain of jobs enqueued by
 *   processors: those start a new trace with a link, so nothing grows one
 *   endless trace.
 * - `parent`: always a child.
 * - `link`: always a new trace that links to the producer's span.
 */
export type ProcessParent = 'auto' | 'parent' | 'link';
export type MetricsExporterName = 'prometheus' | 'otlp' | 'console' | 'none';

export interface JobwatchConfig {
  /** JOBWATCH_ENABLED (and OTEL_SDK_DISABLED): when false the preload does nothing at all. */
  enabled: boolean;
  /** JOBWATCH_HEARTBEAT_INTERVAL_MS: how often each worker writes its heartbeat. */
  heartbeatIntervalMs: number;
  /** JOBWATCH_STUCK_JOB_MS: an active job older than this marks its worker down (0 = off). */
  stuckJobMs: number;
  /**
   * JOBWATCH_HUNG_COMMAND_MS: a Worker whose fetch loop waits this long on one
   * command (or makes no round trip while a slot is free) is hung: wedged (0 = off).
   */
  hungCommandMs: number;
  /** JOBWATCH_REGISTRY_RETENTION_MS: how long a dead or stopped worker stays in the registry. */
  registryRetentionMs: number;
  /** JOBWATCH_REGISTRY_VIEW: whether this process reads the registry and reports others' status. */
  registryView: boolean;
  /** JOBWATCH_QUEUES: extra queues to watch (queue depth), beyond those this process uses. */
  queues: string[];
  /** JOBWATCH_QUEUE_PREFIX: BullMQ key prefix of the queues in JOBWATCH_QUEUES. */
  queuePrefix: string;
  /** JOBWATCH_REDIS_URL: Redis for JOBWATCH_QUEUES and the CLI, when no BullMQ connection is at hand. */
  redisUrl: string | undefined;
  /** JOBWATCH_POSTGRES_URL: a BullMQ 6 PostgreSQL database whose worker registry to read (the CLI, the monitor); `?schema=` names BullMQ's schema (default bullmq). */
  postgresUrl: string | undefined;
  /** JOBWATCH_QUEUE_DEPTH: whether this process reports queue depth. */
  queueDepth: boolean;
  /** JOBWATCH_COLLECT_CACHE_MS: how long one Redis read of queue depth / registry serves all readers. */
  collectCacheMs: number;
  /** JOBWATCH_COLLECT_TIMEOUT_MS: the longest a collection may wait on Redis before reporting what it knows. */
  collectTimeoutMs: number;
  /** JOBWATCH_HEALTH_PORT: port of the health endpoints; undefined = no health server. */
  healthPort: number | undefined;
  /** JOBWATCH_HEALTH_HOST: address the health server binds to. */
  healthHost: string;
  /** JOBWATCH_HEALTH_TOKEN: bearer token that protects /health/queues ('' = set but blank: refuse all). */
  healthToken: string | undefined;
  /** JOBWATCH_PROCESS_PARENT: how a `process` span relates to the span that enqueued the job. */
  processParent: ProcessParent;
  /** JOBWATCH_TRACE_REDIS: keep spans of BullMQ's own Redis commands (off: suppressed). */
  traceRedis: boolean;
  /** JOBWATCH_BULK_CREATE_SPANS: a `create` span per job of an addBulk (off, the default: its `send` span only). */
  bulkCreateSpans: boolean;
  /** JOBWATCH_MAX_CHAIN_DEPTH: jobs enqueued by processors, one after another, that share one trace. */
  maxChainDepth: number;
  /** JOBWATCH_CAPTURE_ERROR_MESSAGE: error messages on spans (off: exception type and stack frames only). */
  captureErrorMessage: boolean;
  /** JOBWATCH_CAPTURE_JOB_DATA: job data (JSON) as bullmq.job.data on send and process spans. */
  captureJobData: boolean;
  /** JOBWATCH_CAPTURE_MAX_BYTES: longest captured job data, error message or job log line. */
  captureMaxBytes: number;
  /** JOBWATCH_CAPTURE_JOB_LOGS: each job.log() line as an event on the attempt's process span. */
  captureJobLogs: boolean;
  /** JOBWATCH_LOG_CORRELATION: trace ids (and the job) on the app's pino, winston and bunyan records. */
  logCorrelation: boolean;
  /** JOBWATCH_REQUEST_ID_HEADER: an incoming request header whose value travels with the jobs it enqueues (undefined = off). */
  requestIdHeader: string | undefined;
  /** OTEL_METRICS_EXPORTER, defaulting to prometheus (the SDK's own default is otlp). */
  metricsExporters: MetricsExporterName[];
  /** OTEL_EXPORTER_PROMETHEUS_HOST / _PORT */
  prometheusHost: string;
  prometheusPort: number;
}

const MINUTE = 60_000;
const DAY = 24 * 60 * MINUTE;

/** Every default, in one place: what each setting is when the environment does not set it. */
export const DEFAULT_CONFIG: Readonly<JobwatchConfig> = Object.freeze<JobwatchConfig>({
  enabled: true,
  heartbeatIntervalMs: 5000,
  stuckJobMs: 0,
  hungCommandMs: 15_000,
  registryRetentionMs: 15 * MINUTE,
  registryView: true,
  queues: [],
  queuePrefix: 'bull',
  redisUrl: undefined,
  postgresUrl: undefined,
  queueDepth: true,
  collectCacheMs: 5000,
  collectTimeoutMs: 1000,
  healthPort: undefined,
  healthHost: '127.0.0.1',
  healthToken: undefined,
  processParent: 'auto',
  traceRedis: false,
  bulkCreateSpans: false,
  maxChainDepth: 10,
  captureErrorMessage: false,
  captureJobData: false,
  captureMaxBytes: 1024,
  captureJobLogs: false,
  logCorrelation: true,
  requestIdHeader: undefined,
  metricsExporters: ['prometheus'] as MetricsExporterName[],
  prometheusHost: 'localhost',
  prometheusPort: 9464,
});

type Env = Record<string, string | undefined>;

const TRUE = new Set(['1', 'true', 'yes', 'on']);
const FALSE = new Set(['0', 'false', 'no', 'off']);

/** Names of jobwatch's own tests and CI (test/, scripts/run), never settings of an app. */
const TEST_PREFIX = 'JOBWATCH_TEST_';

class Reader {
  readonly errors: string[] = [];
  /** Every setting read, so that a name jobwatch does not know can be told apart. */
  private readonly names = new Set<string>();
  constructor(private readonly env: Env) {}

  private raw(name: string): string | undefined {
    this.names.add(name);
    const value = this.env[name]?.trim();
    return value === undefined || value === '' ? undefined : value;
  }

  /** A secret: unset is off, but set and blank is a mistake, not "off". */
  secret(name: string): string | undefined {
    const value = this.raw(name);
    if (value !== undefined || this.env[name] === undefined) return value;
    this.errors.push(
      `invalid ${name}="": expected a token (set but blank is not "no token"); every request that needs it is refused until it is set, or unset`,
    );
    return '';
  }

  /** One line per JOBWATCH_* variable that names no setting, with the nearest one. */
  unknownNames(): void {
    const known = [...this.names].filter((n) => n.startsWith('JOBWATCH_'));
    for (const name of Object.keys(this.env).sort()) {
      if (!name.startsWith('JOBWATCH_') || name.startsWith(TEST_PREFIX) || this.names.has(name)) {
        continue;
      }
      const nearest = nearestName(name, known);
      this.errors.push(
        `unknown setting ${name}${nearest ? ` (did you mean ${nearest}?)` : ''}: it is ignored`,
      );
    }
  }

  private reject<T>(name: string, value: string, expected: string, fallback: T): T {
    this.errors.push(
      `invalid ${name}=${JSON.stringify(value)}: expected ${expected}; using ${JSON.stringify(fallback) ?? 'unset'}`,
    );
    return fallback;
  }

  bool(name: string, fallback: boolean): boolean {
    const value = this.raw(name);
    if (value === undefined) return fallback;
    const lower = value.toLowerCase();
    if (TRUE.has(lower)) return true;
    if (FALSE.has(lower)) return false;
    return this.reject(name, value, 'true or false', fallback);
  }

  int(name: string, fallback: number, min: number, max: number, what: string): number {
    const value = this.raw(name);
    if (value === undefined) return fallback;
    const n = Number(value);
    if (Number.isInteger(n) && n >= min && n <= max) return n;
    return this.reject(name, value, `${what} from ${min} to ${max}`, fallback);
  }

  optionalPort(name: string): number | undefined {
    const value = this.raw(name);
    if (value === undefined) return undefined;
    const n = Number(value);
    if (Number.isInteger(n) && n >= 0 && n <= 65535) return n;
    return this.reject(name, value, 'a port number from 0 to 65535', undefined);
  }

  string(name: string, fallback: string): string {
    return this.raw(name) ?? fallback;
  }

  optionalString(name: string): string | undefined {
    return this.raw(name);
  }

  /** An HTTP header name (RFC 9110 token), lower-cased as Node hands headers over. */
  headerName(name: string): string | undefined {
    const value = this.raw(name);
    if (value === undefined) return undefined;
    if (/^[!#$%&'*+.^_`|~0-9A-Za-z-]{1,128}$/.test(value)) return value.toLowerCase();
    return this.reject(name, value, 'an HTTP header name, e.g. x-request-id', undefined);
  }

  oneOf<T extends string>(name: string, allowed: readonly T[], fallback: T): T {
    const value = this.raw(name);
    if (value === undefined) return fallback;
    const lower = value.toLowerCase() as T;
    if (allowed.includes(lower)) return lower;
    return this.reject(name, value, `one of ${allowed.join(', ')}`, fallback);
  }

  list(name: string): string[] {
    const value = this.raw(name);
    if (value === undefined) return [];
    return [
      ...new Set(
        value
          .split(',')
          .map((s) => s.trim())
          .filter(Boolean),
      ),
    ];
  }

  listOf<T extends string>(name: string, allowed: readonly T[], fallback: T[]): T[] {
    const items = this.list(name).map((s) => s.toLowerCase());
    if (items.length === 0) return fallback;
    const bad = items.filter((s) => !allowed.includes(s as T));
    if (bad.length > 0) {
      return this.reject(
        name,
        items.join(','),
        `a comma-separated list of ${allowed.join(', ')}`,
        fallback,
      );
    }
    return items as T[];
  }
}

/** Parses the environment. Never throws; bad values are returned as `errors`. */
export function parseConfig(env: Env): { config: JobwatchConfig; errors: string[] } {
  const r = new Reader(env);
  const d = DEFAULT_CONFIG;
  const sdkDisabled = r.bool('OTEL_SDK_DISABLED', false);
  const config: JobwatchConfig = {
    enabled: r.bool('JOBWATCH_ENABLED', d.enabled) && !sdkDisabled,
    heartbeatIntervalMs: r.int(
      'JOBWATCH_HEARTBEAT_INTERVAL_MS',
      d.heartbeatIntervalMs,
      100,
      10 * MINUTE,
      'a whole number of milliseconds',
    ),
    stuckJobMs: r.int(
      'JOBWATCH_STUCK_JOB_MS',
      d.stuckJobMs,
      0,
      30 * DAY,
      'a whole number of milliseconds (0 = off)',
    ),
    hungCommandMs: r.int(
      'JOBWATCH_HUNG_COMMAND_MS',
      d.hungCommandMs,
      0,
      10 * MINUTE,
      'a whole number of milliseconds (0 = off)',
    ),
    registryRetentionMs: r.int(
      'JOBWATCH_REGISTRY_RETENTION_MS',
      d.registryRetentionMs,
      MINUTE,
      30 * DAY,
      'a whole number of milliseconds',
    ),
    registryView: r.bool('JOBWATCH_REGISTRY_VIEW', d.registryView),
    queues: r.list('JOBWATCH_QUEUES'),
    queuePrefix: r.string('JOBWATCH_QUEUE_PREFIX', d.queuePrefix),
    redisUrl: r.optionalString('JOBWATCH_REDIS_URL'),
    postgresUrl: r.optionalString('JOBWATCH_POSTGRES_URL'),
    queueDepth: r.bool('JOBWATCH_QUEUE_DEPTH', d.queueDepth),
    collectCacheMs: r.int(
      'JOBWATCH_COLLECT_CACHE_MS',
      d.collectCacheMs,
      0,
      10 * MINUTE,
      'a whole number of milliseconds',
    ),
    collectTimeoutMs: r.int(
      'JOBWATCH_COLLECT_TIMEOUT_MS',
      d.collectTimeoutMs,
      10,
      MINUTE,
      'a whole number of milliseconds',
    ),
    healthPort: r.optionalPort('JOBWATCH_HEALTH_PORT'),
    healthHost: r.string('JOBWATCH_HEALTH_HOST', d.healthHost),
    healthToken: r.secret('JOBWATCH_HEALTH_TOKEN'),
    processParent: r.oneOf(
      'JOBWATCH_PROCESS_PARENT',
      ['auto', 'parent', 'link'] as const,
      d.processParent,
    ),
    traceRedis: r.bool('JOBWATCH_TRACE_REDIS', d.traceRedis),
    bulkCreateSpans: r.bool('JOBWATCH_BULK_CREATE_SPANS', d.bulkCreateSpans),
    maxChainDepth: r.int(
      'JOBWATCH_MAX_CHAIN_DEPTH',
      d.maxChainDepth,
      1,
      10_000,
      'a whole number of jobs',
    ),
    captureErrorMessage: r.bool('JOBWATCH_CAPTURE_ERROR_MESSAGE', d.captureErrorMessage),
    captureJobData: r.bool('JOBWATCH_CAPTURE_JOB_DATA', d.captureJobData),
    captureMaxBytes: r.int(
      'JOBWATCH_CAPTURE_MAX_BYTES',
      d.captureMaxBytes,
      1,
      1024 * 1024,
      'a whole number of bytes',
    ),
    captureJobLogs: r.bool('JOBWATCH_CAPTURE_JOB_LOGS', d.captureJobLogs),
    logCorrelation: r.bool('JOBWATCH_LOG_CORRELATION', d.logCorrelation),
    requestIdHeader: r.headerName('JOBWATCH_REQUEST_ID_HEADER'),
    metricsExporters: r.listOf(
      'OTEL_METRICS_EXPORTER',
      ['prometheus', 'otlp', 'console', 'none'] as const,
      [...d.metricsExporters],
    ),
    prometheusHost: r.string('OTEL_EXPORTER_PROMETHEUS_HOST', d.prometheusHost),
    prometheusPort: r.int(
      'OTEL_EXPORTER_PROMETHEUS_PORT',
      d.prometheusPort,
      0,
      65535,
      'a port number',
    ),
  };
  r.unknownNames();
  return { config, errors: r.errors };
}

/** The known name closest to `name` in edit distance, if it is close enough to be a typo. */
function nearestName(name: string, known: string[]): string | undefined {
  let best: string | undefined;
  let bestDistance = Number.POSITIVE_INFINITY;
  for (const candidate of known) {
    const d = editDistance(name, candidate);
    if (d < bestDistance) {
      best = candidate;
      bestDistance = d;
    }
  }
  return bestDistance <= Math.max(3, Math.floor(name.length / 4)) ? best : undefined;
}

function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      const substitute = previous[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1);
      current[j] = Math.min(previous[j]! + 1, current[j - 1]! + 1, substitute);
    }
    previous = current;
  }
  return previous[b.length]!;
}

/** The configuration from the environment; each bad value is reported in one line. */
export function loadConfig(env: Env = process.env): JobwatchConfig {
  const { config, errors } = parseConfig(env);
  for (const error of errors) logError(error);
  return config;
}
