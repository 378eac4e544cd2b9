// grafana/dashboards/jobwatch.json is generated from grafana/dashboard.mts (with
// Grafana's Foundation SDK): the committed JSON is the generator's output, the
// generator typechecks, its --check catches a hand edit, and every alert of the
// shipped rules has panels that show what it evaluates.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { repoRoot, shippedRules } from '../helpers/rules-override.js';
import { dashboard } from './stack-files.js';

const node = (...args: string[]) =>
  spawnSync(process.execPath, ['grafana/dashboard.mts', ...args], {
    cwd: repoRoot,
    encoding: 'utf8',
  });
const tmp = mkdtempSync(join(tmpdir(), 'jobwatch-dashboard-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe('the dashboard generator', () => {
  it('reproduces the committed JSON exactly (regenerate with node grafana/dashboard.mts)', () => {
    const r = node('--check');
    expect(r.status, r.stderr).toBe(0);
  });

  it('fails the check for a JSON that differs, naming the fix', () => {
    const edited = join(tmp, 'jobwatch.json');
    const json = readFileSync(join(repoRoot, 'grafana/dashboards/jobwatch.json'), 'utf8');
    writeFileSync(edited, json.replace('"Worker status"', '"Worker status (edited)"'));
    const r = node('--check', edited);
    expect(r.status).toBe(1);
    expect(r.stderr).toContain('run node grafana/dashboard.mts');
  });

  it('typechecks against the SDK’s types', () => {
    const r = spawnSync(
      process.execPath,
      [join(repoRoot, 'node_modules/typescript/bin/tsc'), '-p', 'grafana/tsconfig.json'],
      { cwd: repoRoot, encoding: 'utf8' },
    );
    expect(r.status, r.stdout + r.stderr).toBe(0);
  });
});

interface Rule {
  alert?: string;
  record?: string;
  expr: string;
}
const rules = (
  parse(readFileSync(shippedRules, 'utf8')) as { groups: { rules: Rule[] }[] }
).groups.flatMap((g) => g.rules);
const recorded = new Map(rules.filter((r) => r.record).map((r) => [r.record!, r.expr]));
const labels = new Set([
  'messaging_destination_name',
  'bullmq_worker_name',
  'bullmq_job_state',
  'bullmq_worker_state',
  'bullmq_job_name',
]);

/** Metric names an expression reads, through recording rules; threshold constants kept. */
function signals(expr: string): Set<string> {
  const out = new Set<string>();
  for (const [name] of expr.matchAll(
    /\b(?:worker_status|bullmq_\w+|messaging_\w+|[a-z_]+:[\w:]+)/g,
  )) {
    if (labels.has(name)) continue;
    const inner = name.startsWith('jobwatch:threshold:') ? undefined : recorded.get(name);
    if (inner) for (const s of signals(inner)) out.add(s);
    else out.add(name);
  }
  return out;
}

describe('a panel for every alert', () => {
  const panels = dashboard.panels as {
    title: string;
    description: string;
    targets: { expr: string }[];
  }[];
  it.each(rules.filter((r) => r.alert).map((r) => [r.alert!, r] as const))(
    '%s: named by panels that show every metric and threshold it evaluates',
    (name, rule) => {
      const showing = panels.filter((p) => new RegExp(`\\b${name}\\b`).test(p.description));
      expect(showing.length, `no panel description names ${name}`).toBeGreaterThan(0);
      const shown = new Set(showing.flatMap((p) => p.targets.flatMap((t) => [...signals(t.expr)])));
      for (const s of signals(rule.expr)) expect([...shown], `${name} reads ${s}`).toContain(s);
    },
  );
});

it('names in the runbook only panels the dashboard has', () => {
  const runbook = readFileSync(join(repoRoot, 'docs/runbook.md'), 'utf8').replace(/\n/g, ' ');
  const titles = (dashboard.panels as { title: string }[]).map((p) => p.title);
  const named = [...runbook.matchAll(/(?<![*\w])\*([A-Z][^*]+)\*(?![*\w])/g)].map((m) => m[1]!);
  expect(named.length).toBeGreaterThan(5);
  for (const name of named)
    expect(
      titles.some((t) => t.startsWith(name)),
      `runbook names panel *${name}*`,
    ).toBe(true);
});
