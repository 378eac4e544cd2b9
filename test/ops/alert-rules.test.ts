// The shipped alert rules: promtool accepts them without a warning, their unit
// tests pass, and every alert follows the conventions users and on-call rely on.
import { spawnSync } from 'node:child_process';
import {
  copyFileSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { repoRoot, shippedRules, writeOverriddenRules } from '../helpers/rules-override.js';

interface Rule {
  alert?: string;
  record?: string;
  expr: string;
  for?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}

const groups = (
  parse(readFileSync(shippedRules, 'utf8')) as { groups: { name: string; rules: Rule[] }[] }
).groups;
const rules = groups.flatMap((g) => g.rules);
const alerts = rules.filter((r) => r.alert);
const testDir = join(repoRoot, 'alerts/tests');
const testFiles = readdirSync(testDir).filter((f) => f.endsWith('.test.yml'));
const runbook = readFileSync(join(repoRoot, 'docs/runbook.md'), 'utf8');
const tmp = mkdtempSync(join(tmpdir(), 'jobwatch-rules-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

/** GitHub's anchor for a markdown heading. */
const anchor = (heading: string) =>
  heading
    .trim()
    .toLowerCase()
    .replace(/[^\w\- ]/g, '')
    .replace(/ /g, '-');
const runbookAnchors = new Set([...runbook.matchAll(/^#{1,6} (.+)$/gm)].map((m) => anchor(m[1]!)));

describe('the rules generator (alerts/rules.mjs)', () => {
  const generate = (...args: string[]) =>
    spawnSync(process.execPath, [join(repoRoot, 'alerts/rules.mjs'), ...args], {
      cwd: repoRoot,
      encoding: 'utf8',
    });

  it('wrote the shipped file: --check finds no difference', () => {
    const r = generate('--check');
    expect(r.status, r.stdout + r.stderr).toBe(0);
  });

  it('--check fails on a hand edit', () => {
    const edited = join(tmp, 'edited.rules.yml');
    writeFileSync(edited, readFileSync(shippedRules, 'utf8').replace('for: 1m', 'for: 2m'));
    const r = generate('--check', edited);
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/differs from the generator/);
  });

  it('--group-labels env: two environments with look-alike registries in one Prometheus stay apart', () => {
    const dir = join(tmp, 'envs');
    mkdirSync(dir);
    const r = generate('--group-labels', 'env');
    expect(r.status, r.stderr).toBe(0);
    writeFileSync(join(dir, 'env.rules.yml'), r.stdout);
    const check = spawnSync('promtool', ['check', 'rules', join(dir, 'env.rules.yml')], {
      encoding: 'utf8',
    });
    expect(check.status, check.stdout + check.stderr).toBe(0);
    // prod's worker dies while staging's twin (same registry URL, same names) runs.
    const series = (env: string, values: string) =>
      `      - series: 'worker_status{env="${env}", jobwatch_registry="redis://redis:6379/0#bull", job="worker", instance="w:9464", bullmq_worker_name="mailer", messaging_destination_name="email"}'\n        values: '${values}'`;
    writeFileSync(
      join(dir, 'env.test.yml'),
      [
        'rule_files: [env.rules.yml]',
        'evaluation_interval: 15s',
        'tests:',
        '  - interval: 15s',
        '    input_series:',
        series('prod', '1x3 0x20'),
        series('staging', '1x23'),
        '    alert_rule_test:',
        '      - eval_time: 3m',
        '        alertname: BackgroundWorkerDown',
        '        exp_alerts:',
        '          - exp_labels:',
        '              env: prod',
        '              jobwatch_registry: redis://redis:6379/0#bull',
        '              severity: critical',
        '              bullmq_worker_name: mailer',
        '              messaging_destination_name: email',
        '            exp_annotations:',
        '              summary: BullMQ worker mailer on queue email is down (env prod).',
        "              description: 'No live instance of worker mailer (queue email, registry redis://redis:6379/0#bull) for at least 1 minute: its instances crashed, were killed or hung, or its worker_status series disappeared.'",
        '              runbook_url: https://github.com/jobwatch/jobwatch/blob/main/docs/runbook.md#backgroundworkerdown',
        '',
      ].join('\n'),
    );
    const t = spawnSync('promtool', ['test', 'rules', 'env.test.yml'], {
      cwd: dir,
      encoding: 'utf8',
    });
    expect(t.status, t.stdout + t.stderr).toBe(0);
    // Without the label, the shipped rules cannot tell them apart: the same test fails.
    writeFileSync(join(dir, 'env.rules.yml'), readFileSync(shippedRules, 'utf8'));
    const merged = spawnSync('promtool', ['test', 'rules', 'env.test.yml'], {
      cwd: dir,
      encoding: 'utf8',
    });
    expect(merged.status).not.toBe(0);
  });
});

describe('promtool', () => {
  it('check rules: valid, with no warnings', () => {
    const r = spawnSync('promtool', ['check', 'rules', shippedRules], { encoding: 'utf8' });
    expect(r.status, r.stdout + r.stderr).toBe(0);
    expect(r.stdout).toContain('SUCCESS');
    expect(`${r.stdout}\n${r.stderr}`).not.toMatch(/warn/i);
  });

  it.each(testFiles)('test rules %s', (file) => {
    const r = spawnSync('promtool', ['test', 'rules', file], { cwd: testDir, encoding: 'utf8' });
    expect(r.status, r.stdout + r.stderr).toBe(0);
    expect(r.stdout).toContain('SUCCESS');
  });

  it('the unit tests catch a broken rule (a longer for on every alert)', () => {
    const broken = join(tmp, 'broken');
    writeOverriddenRules(broken, { for: '2m' });
    mkdirSync(join(broken, 'tests'));
    copyFileSync(join(testDir, 'workers.test.yml'), join(broken, 'tests/workers.test.yml'));
    const r = spawnSync('promtool', ['test', 'rules', 'workers.test.yml'], {
      cwd: join(broken, 'tests'),
      encoding: 'utf8',
    });
    expect(r.status).not.toBe(0);
    expect(r.stdout + r.stderr).toContain('alertname: BackgroundWorkerDown');
  });
});

describe('alert conventions', () => {
  it('includes the alerts the operations bundle promises', () => {
    expect(alerts.map((a) => a.alert).sort()).toEqual(
      [
        'BackgroundJobFailureRatioHigh',
        'BackgroundJobStuck',
        'BackgroundJobsStalled',
        'BackgroundQueueBacklogGrowing',
        'BackgroundQueueBacklogTooDeep',
        'BackgroundQueueWaitTimeHigh',
        'BackgroundWorkerDown',
        'BackgroundWorkerFlapping',
        'BackgroundWorkerHeartbeatFailing',
        'BackgroundWorkerInstancesDown',
        'BackgroundWorkerMetricsMissing',
      ].sort(),
    );
  });

  it('BackgroundWorkerDown pages after one minute, everything else tickets', () => {
    for (const a of alerts) {
      const expected = a.alert === 'BackgroundWorkerDown' ? 'critical' : 'warning';
      expect(a.labels?.severity, a.alert).toBe(expected);
    }
    expect(alerts.find((a) => a.alert === 'BackgroundWorkerDown')?.for).toBe('1m');
  });

  it.each(alerts.map((a) => [a.alert!, a] as const))(
    '%s has summary, description and a runbook section',
    (name, a) => {
      expect(a.annotations?.summary, name).toBeTruthy();
      expect(a.annotations?.description, name).toBeTruthy();
      const url = a.annotations?.runbook_url ?? '';
      expect(url).toMatch(/\/docs\/runbook\.md#/);
      const section = url.split('#')[1]!;
      expect(section).toBe(name.toLowerCase());
      expect(runbookAnchors.has(section), `docs/runbook.md has no "## ${name}" section`).toBe(true);
    },
  );

  it('names the worker or queue (or, for a per-process signal, the process) in every summary and description', () => {
    const perProcess = new Set(['BackgroundWorkerHeartbeatFailing']);
    for (const a of alerts) {
      const names = perProcess.has(a.alert!)
        ? /\$labels\.instance/
        : /\$labels\.(messaging_destination_name|bullmq_worker_name)/;
      for (const key of ['summary', 'description'] as const)
        expect(a.annotations?.[key], `${a.alert} ${key}`).toMatch(names);
    }
  });

  it('aggregates the fleet view’s series by worker, so that a lease move never changes an alert', () => {
    for (const a of alerts.filter((x) => /worker_status|bullmq_worker_instances/.test(x.expr)))
      expect(a.expr, a.alert).not.toMatch(/by \([^)]*\b(job|instance)\b/);
    const down = alerts.find((a) => a.alert === 'BackgroundWorkerInstancesDown')!;
    expect(down.expr).toMatch(
      /max by \(jobwatch_registry, bullmq_worker_name, messaging_destination_name, bullmq_worker_state\)/,
    );
  });

  it('keeps every registry apart: each aggregation of a worker or queue series is by jobwatch_registry', () => {
    for (const r of rules) {
      // The series jobwatch labels with the registry (job metrics have no registry).
      const scoped =
        /worker_status|bullmq_worker_(state|instances|active|oldest)|bullmq_queue_|:worker_(status|up|state)|queue:bullmq_queue/;
      if (!scoped.test(r.expr)) continue;
      for (const m of r.expr.matchAll(/\b(?:max|sum|min|group) by \(([^)]*)\)/g))
        expect(m[1], r.alert ?? r.record).toMatch(/\bjobwatch_registry\b/);
    }
  });

  it('keeps every threshold in one place: constants, each used and documented', () => {
    const constants = rules.filter((r) => r.record?.startsWith('jobwatch:threshold:'));
    expect(constants.length).toBeGreaterThan(0);
    for (const c of constants) {
      expect(c.expr, c.record).toMatch(/^vector\([\d.]+\)$/);
      const users = alerts.filter((a) => a.expr.includes(c.record!));
      expect(users.length, `${c.record} is used by no alert`).toBeGreaterThan(0);
      expect(runbook, `${c.record} is not in the runbook`).toContain(c.record!);
    }
    // No alert compares against a number of its own, except 0 (down, not growing) and
    // `== 1` (a one-hot state is set).
    for (const a of alerts) {
      const literals = [...a.expr.matchAll(/([<>]=?|[=!]=)\s*(-?[\d.]+)/g)].filter(
        ([, op, n]) => Number(n) !== 0 && !(op === '==' && n === '1'),
      );
      expect(
        literals.map((m) => m[0]),
        a.alert,
      ).toEqual([]);
    }
  });

  it('has, for every alert, a promtool case where it fires and one where it must not', () => {
    const firing = new Set<string>();
    const silent = new Set<string>();
    for (const file of testFiles) {
      const doc = parse(readFileSync(join(testDir, file), 'utf8'));
      for (const t of doc.tests)
        for (const c of t.alert_rule_test ?? [])
          (c.exp_alerts?.length ? firing : silent).add(c.alertname);
    }
    for (const a of alerts) {
      expect(firing.has(a.alert!), `${a.alert} never fires in alerts/tests`).toBe(true);
      expect(silent.has(a.alert!), `${a.alert} has no not-firing case`).toBe(true);
    }
  });
});
