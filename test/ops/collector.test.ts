// No collector binary runs here, so the collector config is checked for the
// wiring mistakes that would make it reject the file or silently drop data.
import { describe, expect, it } from 'vitest';
import {
  collector,
  compose,
  portOf,
  prometheusConfig,
  publishedPorts,
  read,
} from './stack-files.js';

const runbook = read('docs/runbook.md');
const expirationSeconds = () =>
  Number(/^(\d+)s$/.exec(collector.exporters.prometheus.metric_expiration)?.[1]);

const kinds = ['receivers', 'processors', 'exporters', 'connectors'] as const;
const pipelines = Object.entries(collector.service.pipelines) as [
  string,
  Record<(typeof kinds)[number], string[]>,
][];

describe('collector/otel-collector.yaml', () => {
  it('routes logs (the worker lifecycle events) to the stack’s logs store, on its OTLP intake', () => {
    const [logs] = pipelines.filter(([name]) => name === 'logs');
    expect(logs![1].receivers).toEqual(['otlp']);
    const [exporter] = logs![1].exporters;
    const url = new URL(collector.exporters[exporter!].logs_endpoint);
    expect(compose.services[url.hostname], url.hostname).toBeDefined();
    expect(url.pathname).toBe('/insert/opentelemetry/v1/logs'); // VictoriaLogs' OTLP path
    const store = compose.services[url.hostname];
    expect(store.image).toMatch(/^victoriametrics\/victoria-logs:v\d+\.\d+\.\d+$/); // Apache-2.0
    expect(publishedPorts(url.hostname)).toContain(Number(url.port));
    expect(compose.services['otel-collector'].depends_on).toHaveProperty(url.hostname);
    // The process holding the fleet view sends its events: the demo API.
    expect(compose.services['demo-api'].environment.OTEL_LOGS_EXPORTER).toBe('otlp');
  });

  it('defines every component a pipeline uses, and uses every one it defines', () => {
    for (const kind of ['receivers', 'processors', 'exporters'] as const) {
      const defined = Object.keys(collector[kind] ?? {});
      const used = new Set(pipelines.flatMap(([, p]) => p[kind] ?? []));
      for (const name of used) expect(defined, `${kind} ${name}`).toContain(name);
      for (const name of defined) expect([...used], `${kind} ${name} is unused`).toContain(name);
    }
    expect(collector.service.extensions.sort()).toEqual(Object.keys(collector.extensions).sort());
  });

  it('has a traces, a metrics and a logs pipeline, memory_limiter first, then batch', () => {
    expect(pipelines.map(([name]) => name).sort()).toEqual(['logs', 'metrics', 'traces']);
    for (const [name, p] of pipelines) {
      expect(p.processors[0], name).toBe('memory_limiter');
      expect(p.processors.indexOf('batch'), name).toBeGreaterThan(0);
    }
  });

  it('listens for OTLP on all interfaces, gRPC 4317 and HTTP 4318', () => {
    expect(collector.receivers.otlp.protocols.grpc.endpoint).toBe('0.0.0.0:4317');
    expect(collector.receivers.otlp.protocols.http.endpoint).toBe('0.0.0.0:4318');
    expect(collector.extensions.health_check.endpoint).toMatch(/^0\.0\.0\.0:\d+$/);
  });

  it('uses current component names', () => {
    const types = Object.keys(collector.exporters).map((id) => id.split('/')[0]);
    // Renamed to otlp_grpc / otlp_http (0.144) and prometheus_remote_write; `logging` is gone.
    for (const old of ['otlp', 'otlphttp', 'logging', 'prometheusremotewrite'])
      expect(types).not.toContain(old);
    expect(types.sort()).toEqual(['otlp_grpc', 'otlp_http', 'prometheus']);
  });

  it('keeps Prometheus names identical to the pull path, and drops dead workers quickly', () => {
    const prom = collector.exporters.prometheus;
    expect(prom.translation_strategy).toBe('UnderscoreEscapingWithSuffixes');
    expect(prom.add_metric_suffixes).toBeUndefined(); // deprecated and ignored
    // Deprecated upstream in favour of resource constant labels; false is the default.
    expect(prom.resource_to_telemetry_conversion).toBeUndefined();
    expect(expirationSeconds()).toBeLessThan(300); // shorter than the 5 m default
  });

  it('expires series only after three export intervals of every app that pushes metrics', () => {
    const pushing = Object.entries(compose.services as Record<string, any>).filter(([, svc]) =>
      String(svc.environment?.OTEL_METRICS_EXPORTER ?? '')
        .split(',')
        .includes('otlp'),
    );
    expect(pushing.map(([name]) => name)).toEqual(['demo-worker']);
    for (const [name, svc] of pushing) {
      // Unset, the SDK exports every 60 s: longer than the expiration.
      const intervalMs = Number(svc.environment.OTEL_METRIC_EXPORT_INTERVAL);
      expect(intervalMs, `${name} OTEL_METRIC_EXPORT_INTERVAL`).toBeGreaterThan(0);
      expect(expirationSeconds() * 1000, name).toBeGreaterThanOrEqual(3 * intervalMs);
      // The docs state the same pairing.
      expect(runbook).toContain(`OTEL_METRIC_EXPORT_INTERVAL=${intervalMs}`);
      expect(runbook).toContain(
        `\`metric_expiration\`. jobwatch's collector config sets it to ${expirationSeconds()} s`,
      );
    }
  });

  it('matches the compose file: published ports, trace backend, scrape target', () => {
    const published = publishedPorts('otel-collector');
    expect(published).toEqual(
      expect.arrayContaining([
        portOf(collector.receivers.otlp.protocols.grpc.endpoint),
        portOf(collector.receivers.otlp.protocols.http.endpoint),
        portOf(collector.exporters.prometheus.endpoint),
        portOf(collector.extensions.health_check.endpoint),
      ]),
    );
    const [host, port] = collector.exporters['otlp_grpc/jaeger'].endpoint.split(':');
    expect(Object.keys(compose.services)).toContain(host);
    expect(Number(port)).toBe(4317); // Jaeger v2's OTLP gRPC port
    const job = prometheusConfig.scrape_configs.find((j: any) => j.job_name === 'otel-collector');
    expect(job.honor_labels).toBe(true);
    expect(job.static_configs[0].targets).toEqual([
      `otel-collector:${portOf(collector.exporters.prometheus.endpoint)}`,
    ]);
  });

  it('is the file the compose service loads, from a pinned contrib image', () => {
    const svc = compose.services['otel-collector'];
    expect(svc.image).toMatch(/^otel\/opentelemetry-collector-contrib:\d+\.\d+\.\d+$/);
    expect(svc.volumes).toContain(
      './collector/otel-collector.yaml:/etc/otelcol-contrib/config.yaml:ro',
    );
    expect(svc.command).toEqual(['--config=/etc/otelcol-contrib/config.yaml']);
  });
});
