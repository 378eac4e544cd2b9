// The Grafana dashboard and provisioning have the shape Grafana loads, and every
// reference between them (datasource uids, paths, trace links) resolves.
import { describe, expect, it } from 'vitest';
import { compose, dashboard, dashboardProviders, datasources, hostPathOf } from './stack-files.js';

const panels = dashboard.panels as any[];
const variables = dashboard.templating.list as any[];
const provisioned = new Map<string, string>(
  datasources.datasources.map((d: any) => [d.uid, d.type]),
);

/** The uid a panel or target datasource reference resolves to, through a datasource variable. */
function resolveUid(ref: { type: string; uid: string }): string | undefined {
  const variable = /^\$\{?(\w+)\}?$/.exec(ref.uid)?.[1];
  if (!variable) return ref.uid;
  const v = variables.find((x) => x.name === variable && x.type === 'datasource');
  return v?.query === ref.type ? v.current.value : undefined;
}

const titled = (title: string) => panels.find((p) => p.title === title);

describe('grafana/dashboards/jobwatch.json', () => {
  it('has a stable uid, a schemaVersion and the datasource, job and queue variables', () => {
    expect(dashboard.uid).toBe('jobwatch-bullmq');
    expect(dashboard.schemaVersion).toBeGreaterThanOrEqual(36);
    expect(variables.map((v) => v.name)).toEqual(
      expect.arrayContaining(['datasource', 'job', 'queue']),
    );
    expect(variables.find((v) => v.name === 'datasource')).toMatchObject({
      type: 'datasource',
      query: 'prometheus',
    });
  });

  it('gives every panel a unique id and a gridPos inside 24 columns, without overlaps', () => {
    const ids = panels.map((p) => p.id);
    expect(new Set(ids).size).toBe(ids.length);
    const cells = new Set<string>();
    for (const p of panels) {
      const { x, y, w, h } = p.gridPos;
      expect([x, y, w, h].every(Number.isInteger), p.title).toBe(true);
      expect(x + w, p.title).toBeLessThanOrEqual(24);
      for (let i = x; i < x + w; i++)
        for (let j = y; j < y + h; j++) {
          expect(cells.has(`${i},${j}`), `${p.title} overlaps at ${i},${j}`).toBe(false);
          cells.add(`${i},${j}`);
        }
    }
  });

  it('resolves every datasource reference to a provisioned uid of the right type', () => {
    const refs = [
      ...panels.flatMap((p) => [p.datasource, ...p.targets.map((t: any) => t.datasource)]),
      ...variables.filter((v) => v.type === 'query').map((v) => v.datasource),
    ];
    for (const ref of refs) {
      const uid = resolveUid(ref);
      expect(uid && provisioned.get(uid), JSON.stringify(ref)).toBe(ref.type);
    }
  });

  it('sets a unit on every graph and stat', () => {
    for (const p of panels.filter((p) => ['timeseries', 'stat'].includes(p.type)))
      expect(p.fieldConfig.defaults.unit, p.title).toBeTruthy();
    expect(titled('Process duration p50 / p95 / p99').fieldConfig.defaults.unit).toBe('s');
    expect(titled('Failure ratio').fieldConfig.defaults.unit).toBe('percentunit');
  });

  it('has the panels the issue lists', () => {
    for (const title of [
      'Worker status',
      'Workers up now',
      'Queue depth by state',
      'Throughput',
      'Failure ratio',
      'Process duration p50 / p95 / p99',
      'Wait time p95',
      'Retries, failures and stalls',
      'Oldest active job',
    ])
      expect(titled(title), title).toBeDefined();
    expect(
      titled('Process duration p50 / p95 / p99').targets.map(
        (t: any) => /histogram_quantile\(([\d.]+)/.exec(t.expr)?.[1],
      ),
    ).toEqual(['0.5', '0.95', '0.99']);
  });

  it('shows each worker’s state as a state timeline: the five states, what pages in red and orange', () => {
    const p = titled('Worker status');
    expect(p.type).toBe('state-timeline');
    const mapping = p.fieldConfig.defaults.mappings[0].options;
    expect(mapping).toMatchObject({
      '1': { text: 'RUNNING', color: 'green' },
      '2': { text: 'PAUSED', color: 'blue' },
      '3': { text: 'HUNG', color: 'orange' },
      '4': { text: 'DEAD', color: 'red' },
      '5': { text: 'STOPPED', color: 'text' },
    });
    // The codes come from bullmq_worker_state, one state each, in the order mapped.
    const expr: string = p.targets[0].expr;
    ['running', 'paused', 'hung', 'dead', 'stopped'].forEach((state, i) => {
      expect(expr).toContain(`bullmq_worker_state="${state}"} == 1) * ${i + 1}`);
    });
  });

  it('lets the reader pick a registry, a worker and a queue, and every worker or queue panel keeps them apart', () => {
    const names = dashboard.templating.list.map((v: any) => v.name);
    expect(names).toEqual(expect.arrayContaining(['registry', 'worker', 'queue']));
    for (const p of dashboard.panels as any[]) {
      for (const t of p.targets ?? []) {
        const scoped = /worker_status|bullmq_worker_(state|instances|active|oldest)|bullmq_queue_/;
        if (!scoped.test(t.expr) || t.expr.startsWith('jobwatch:threshold:')) continue;
        expect(t.expr, p.title).toContain('jobwatch_registry=~"$registry"');
        for (const m of (t.expr as string).matchAll(/\b(?:max|sum|count) by \(([^)]*)\)/g))
          expect(m[1], p.title).toMatch(/jobwatch_registry/);
        // Selected by what the worker is, never by which process exports it: a fleet view's
        // 0 for a dead worker stays in sight whichever process is picked.
        expect(t.expr, p.title).not.toMatch(/\b(job|instance)=~?"/);
      }
    }
  });

  it('links a worker on the state timeline to its lifecycle events in the stack’s logs store', () => {
    const links = titled('Worker status').fieldConfig.defaults.links as {
      title: string;
      url: string;
    }[];
    const events = links.find((l) => l.title.startsWith('Lifecycle events'));
    expect(events?.url).toMatch(/^http:\/\/localhost:9428\/select\/vmui\//);
    const worker = ['$', '{__field.labels.bullmq_worker_name:percentencode}'].join(''); // Grafana's syntax
    expect(decodeURIComponent(events!.url)).toContain(`bullmq.worker.name:"${worker}"`);
    expect(compose.services.victorialogs.ports).toContain('9428:9428');
  });

  it('links the worker panels to traces in the provisioned trace datasource', () => {
    for (const title of ['Worker status', 'Failure ratio', 'Oldest active job']) {
      const links = titled(title).fieldConfig.defaults.links as { url: string }[];
      expect(links?.length, title).toBeGreaterThan(0);
      const left = decodeURIComponent(links[0]!.url.replace(/^\/explore\?left=/, ''));
      expect(left).toContain('"datasource":"jaeger"');
      expect(left).toContain(
        'messaging.destination.name=${__field.labels.messaging_destination_name',
      );
    }
    expect(provisioned.get('jaeger')).toBe('jaeger');
  });
});

describe('grafana/provisioning', () => {
  it('pins the datasource uids: Prometheus (default) and the trace backend', () => {
    expect(datasources.datasources.find((d: any) => d.uid === 'prometheus')).toMatchObject({
      type: 'prometheus',
      isDefault: true,
      url: 'http://prometheus:9090',
    });
    expect(datasources.datasources.find((d: any) => d.uid === 'jaeger')).toMatchObject({
      type: 'jaeger',
      url: 'http://jaeger:16686',
    });
    for (const d of datasources.datasources) {
      const host = new URL(d.url).hostname;
      expect(Object.keys(compose.services), d.name).toContain(host);
    }
  });

  it('loads the dashboards from where compose mounts them', () => {
    const [provider] = dashboardProviders.providers;
    expect(provider.type).toBe('file');
    expect(hostPathOf('grafana', provider.options.path)).toBe('grafana/dashboards');
  });
});
