import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config.js';

describe('configuration', () => {
  it('uses documented defaults when nothing is set', () => {
    const { config, errors } = parseConfig({});
    expect(errors).toEqual([]);
    expect(config).toMatchObject({
      enabled: true,
      heartbeatIntervalMs: 5000,
      stuckJobMs: 0,
      registryRetentionMs: 15 * 60_000,
      healthPort: undefined,
      healthHost: '127.0.0.1',
      processParent: 'auto',
      traceRedis: false,
      bulkCreateSpans: false,
      metricsExporters: ['prometheus'],
      prometheusPort: 9464,
    });
  });

  it('turns per-job create spans of bulk adds on with JOBWATCH_BULK_CREATE_SPANS=true', () => {
    expect(parseConfig({ JOBWATCH_BULK_CREATE_SPANS: 'true' }).config.bulkCreateSpans).toBe(true);
  });

  it('is disabled by OTEL_SDK_DISABLED as well as JOBWATCH_ENABLED', () => {
    expect(parseConfig({ OTEL_SDK_DISABLED: 'true' }).config.enabled).toBe(false);
    expect(parseConfig({ JOBWATCH_ENABLED: 'false' }).config.enabled).toBe(false);
    expect(parseConfig({ JOBWATCH_ENABLED: 'TRUE' }).config.enabled).toBe(true);
  });

  it('reads lists and exporter choices', () => {
    const { config } = parseConfig({
      JOBWATCH_QUEUES: 'orders, emails,orders',
      OTEL_METRICS_EXPORTER: 'prometheus,otlp',
    });
    expect(config.queues).toEqual(['orders', 'emails']);
    expect(config.metricsExporters).toEqual(['prometheus', 'otlp']);
  });

  it('reports each bad value in one line naming the setting and what it expects, then uses the default', () => {
    const { config, errors } = parseConfig({
      JOBWATCH_HEARTBEAT_INTERVAL_MS: '5s',
      JOBWATCH_HEALTH_PORT: '70000',
      JOBWATCH_PROCESS_PARENT: 'sibling',
      JOBWATCH_TRACE_REDIS: 'maybe',
      OTEL_METRICS_EXPORTER: 'prometheus,statsd',
    });
    expect(config.heartbeatIntervalMs).toBe(5000);
    expect(config.healthPort).toBeUndefined();
    expect(config.processParent).toBe('auto');
    expect(config.traceRedis).toBe(false);
    expect(config.metricsExporters).toEqual(['prometheus']);
    expect(errors).toEqual([
      'invalid JOBWATCH_HEARTBEAT_INTERVAL_MS="5s": expected a whole number of milliseconds from 100 to 600000; using 5000',
      'invalid JOBWATCH_HEALTH_PORT="70000": expected a port number from 0 to 65535; using unset',
      'invalid JOBWATCH_PROCESS_PARENT="sibling": expected one of auto, parent, link; using "auto"',
      'invalid JOBWATCH_TRACE_REDIS="maybe": expected true or false; using false',
      'invalid OTEL_METRICS_EXPORTER="prometheus,statsd": expected a comma-separated list of prometheus, otlp, console, none; using ["prometheus"]',
    ]);
  });
});
