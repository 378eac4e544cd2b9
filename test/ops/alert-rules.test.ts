// The shipped alert rules: promtool accepts them without a warning, their unit
// tests pass, and every alert follows the conventions users and on-call rely on.
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
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
      /max by \(bullmq_worker_name, messaging_destination_name, bullmq_worker_state\)/,
    );
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
    // No alert compares against a number of its own, except 0 (down, not growing).
    for (const a of alerts) {
      const literals = [...a.expr.matchAll(/(?:[<>]=?|[=!]=)\s*(-?[\d.]+)/g)].map((m) => m[1]);
      expect(
        literals.filter((n) => Number(n) !== 0),
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
