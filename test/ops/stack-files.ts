// The shipped stack files, parsed once for the structural tests.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { repoRoot } from '../helpers/rules-override.js';

export const read = (path: string) => readFileSync(join(repoRoot, path), 'utf8');
// `merge: true` resolves the compose file's `<<: *demo-app` like docker compose does.
export const readYaml = (path: string) => parse(read(path), { merge: true });

export const compose = readYaml('docker-compose.yml');
export const collector = readYaml('collector/otel-collector.yaml');
export const prometheusConfig = readYaml('stack/prometheus.yml');
export const alertmanagerConfig = readYaml('alerts/alertmanager.yml');
export const dashboard = JSON.parse(read('grafana/dashboards/jobwatch.json'));
export const datasources = readYaml('grafana/provisioning/datasources/jobwatch.yaml');
export const dashboardProviders = readYaml('grafana/provisioning/dashboards/jobwatch.yaml');
export const grafanaAlerts = readYaml('grafana/alerting/jobwatch.yaml');

export const exists = (path: string) => existsSync(join(repoRoot, path));

/** Port of a `host:port` endpoint. */
export const portOf = (endpoint: string) => Number(endpoint.split(':').at(-1));

/** host → container paths of a service's bind mounts ("./x:/y:ro"). */
export function bindMounts(service: string): { host: string; container: string }[] {
  return (compose.services[service].volumes ?? []).map((v: string) => {
    const [host, container] = v.split(':');
    return { host: host!.replace(/^\.\/?/, ''), container: container! };
  });
}

/** The repository path a container path of `service` comes from, if it is bind-mounted. */
export function hostPathOf(service: string, containerPath: string): string | undefined {
  for (const m of bindMounts(service)) {
    if (containerPath === m.container) return m.host;
    if (containerPath.startsWith(`${m.container}/`))
      return join(m.host, containerPath.slice(m.container.length + 1));
  }
  return undefined;
}

/** Container ports a service publishes ("host:container"). */
export const publishedPorts = (service: string): number[] =>
  (compose.services[service].ports ?? []).map((p: string) => Number(String(p).split(':').at(-1)));
