// The Grafana-managed BackgroundWorkerDown is opt-in: the compose stack does not
// load it, and when a user enables it, it comes with its own contact point and
// policy, and an empty stack (a real Prometheus with no data yet) does not page.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PrometheusServer } from '../helpers/prometheus.js';
import { compose, datasources, exists, grafanaAlerts, hostPathOf, read } from './stack-files.js';

const rule = grafanaAlerts.groups[0].rules[0];
const query = rule.data.find((d: any) => d.refId !== rule.condition);
const provisioned = new Map<string, string>(
  datasources.datasources.map((d: any) => [d.uid, d.type]),
);

describe('grafana/alerting/jobwatch.yaml', () => {
  it('is not provisioned by default; the compose file shows the one line that enables it', () => {
    expect(exists('grafana/provisioning/alerting')).toBe(false);
    expect(hostPathOf('grafana', '/etc/grafana/provisioning/alerting')).toBeUndefined();
    expect(read('docker-compose.yml')).toContain(
      '# - ./grafana/alerting:/etc/grafana/provisioning/alerting:ro',
    );
  });

  it('is BackgroundWorkerDown: 1 minute, critical, its runbook, errors alert', () => {
    expect(rule).toMatchObject({
      title: 'BackgroundWorkerDown',
      execErrState: 'Alerting',
      for: '1m',
      labels: { severity: 'critical' },
    });
    expect(rule.annotations.runbook_url).toMatch(/docs\/runbook\.md#backgroundworkerdown$/);
    expect(provisioned.get(query.datasourceUid)).toBe('prometheus');
    const condition = rule.data.find((d: any) => d.refId === rule.condition);
    expect(condition.datasourceUid).toBe('__expr__');
    expect(condition.model).toMatchObject({ type: 'threshold', expression: query.refId });
    expect(condition.model.conditions[0].evaluator).toEqual({ type: 'lt', params: [1] });
  });

  it('routes its notifications to a contact point it provisions, the stack’s alert receiver', () => {
    const [policy] = grafanaAlerts.policies;
    const points = grafanaAlerts.contactPoints.map((c: any) => c.name);
    expect(points).toContain(policy.receiver);
    const [receiver] = grafanaAlerts.contactPoints.find(
      (c: any) => c.name === policy.receiver,
    ).receivers;
    expect(receiver.type).toBe('webhook');
    const url = new URL(receiver.settings.url);
    expect(url.hostname).toBe('alert-receiver');
    expect(url.port).toBe(compose.services['alert-receiver'].environment.PORT);
  });

  describe('on a fresh stack (a real Prometheus, nothing reported yet)', () => {
    let prometheus: PrometheusServer;
    beforeAll(async () => {
      prometheus = await PrometheusServer.start();
    }, 30_000);
    afterAll(() => prometheus?.stop());

    it('the query finds no data, and no data is OK: nothing pages', async () => {
      expect(await prometheus.query(query.model.expr)).toEqual([]);
      expect(rule.noDataState).toBe('OK');
    });
  });
});
