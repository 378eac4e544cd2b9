// The Grafana-managed BackgroundWorkerDown is opt-in: the compose stack does not
// load it, and when a user enables it, it comes with its own contact point and
// policy, and an empty stack (a real Prometheus with no data yet) does not page.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
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

  it('means what the Prometheus rule means: death pages, a planned stop does not, registries stay apart (promtool)', () => {
    const dir = mkdtempSync(join(tmpdir(), 'jobwatch-grafana-rule-'));
    try {
      // The query and its threshold condition (< 1) as a Prometheus alert with the same `for`.
      writeFileSync(
        join(dir, 'grafana.rules.yml'),
        stringify({
          groups: [
            {
              name: 'grafana',
              rules: [{ alert: 'Down', expr: `(${query.model.expr}) < 1`, for: rule.for }],
            },
          ],
        }),
      );
      const labels = (registry: string, worker: string) =>
        `jobwatch_registry="${registry}", bullmq_worker_name="${worker}", messaging_destination_name="${worker}"`;
      const series = (name: string, l: string, values: string) => ({
        series: `${name}{${l}}`,
        values,
      });
      const states = (l: string, state: string, from: string, to: string) =>
        ['running', 'stopped', 'dead'].map((s) =>
          series(
            'bullmq_worker_state',
            `${l}, bullmq_worker_state="${s}"`,
            s === 'running' ? from : s === state ? to : '0x20',
          ),
        );
      const prod = labels('redis://redis:6379/0#prod', 'mailer');
      const staging = labels('redis://redis:6379/0#staging', 'mailer');
      const stops = labels('redis://redis:6379/0#prod', 'reports');
      writeFileSync(
        join(dir, 'grafana.test.yml'),
        stringify({
          rule_files: ['grafana.rules.yml'],
          evaluation_interval: '15s',
          tests: [
            {
              interval: '15s',
              input_series: [
                // prod's mailer dies; staging's twin (same names) runs.
                series('worker_status', prod, '1x3 0x20'),
                ...states(prod, 'dead', '1x3 0x20', '0x3 1x20'),
                series('worker_status', staging, '1x23'),
                ...states(staging, 'dead', '1x23', '0x23'),
                // reports is stopped on purpose (worker.close(), not replaced).
                series('worker_status', stops, '1x3 0x20'),
                ...states(stops, 'stopped', '1x3 0x20', '0x3 1x20'),
              ],
              alert_rule_test: [
                {
                  eval_time: '3m',
                  alertname: 'Down',
                  exp_alerts: [
                    {
                      exp_labels: {
                        jobwatch_registry: 'redis://redis:6379/0#prod',
                        bullmq_worker_name: 'mailer',
                        messaging_destination_name: 'mailer',
                      },
                    },
                  ],
                },
              ],
            },
          ],
        }),
      );
      const r = spawnSync('promtool', ['test', 'rules', 'grafana.test.yml'], {
        cwd: dir,
        encoding: 'utf8',
      });
      expect(r.status, r.stdout + r.stderr).toBe(0);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
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
