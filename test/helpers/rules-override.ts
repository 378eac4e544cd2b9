// The documented test override (docs/runbook.md#testing-the-alerts): copies of
// the shipped alert rules and Alertmanager config with only their timings, the
// threshold constants and the receiver URLs changed, so a test can watch an
// alert fire in seconds while every expression stays exactly as shipped.
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import { parse, stringify } from 'yaml';

export const repoRoot = resolve(__dirname, '../..');
export const shippedRules = join(repoRoot, 'alerts/jobwatch.rules.yml');
export const shippedAlertmanagerConfig = join(repoRoot, 'alerts/alertmanager.yml');

interface Rule {
  alert?: string;
  record?: string;
  expr: string;
  for?: string;
}

export interface RulesOverride {
  /** Replaces every alert's `for` (e.g. '3s'). */
  for?: string;
  /** New values for threshold constants, by name: { queue_backlog_jobs: 5 } sets jobwatch:threshold:queue_backlog_jobs. */
  thresholds?: Record<string, number>;
}

/** Writes an overridden copy of `rulesFile` into `dir` and returns its path. */
export function writeOverriddenRules(
  dir: string,
  o: RulesOverride,
  rulesFile = shippedRules,
): string {
  const doc = parse(readFileSync(rulesFile, 'utf8')) as { groups: { rules: Rule[] }[] };
  const unknown = new Set(Object.keys(o.thresholds ?? {}));
  for (const rule of doc.groups.flatMap((g) => g.rules)) {
    if (rule.alert && rule.for && o.for) rule.for = o.for;
    const name = rule.record?.match(/^jobwatch:threshold:(.+)$/)?.[1];
    if (name && o.thresholds?.[name] !== undefined) {
      rule.expr = `vector(${o.thresholds[name]})`;
      unknown.delete(name);
    }
  }
  if (unknown.size) throw new Error(`no threshold constant named ${[...unknown].join(', ')}`);
  mkdirSync(dir, { recursive: true });
  const out = join(dir, basename(rulesFile));
  writeFileSync(out, stringify(doc));
  return out;
}

export interface AlertmanagerOverride {
  /** Receiver name → webhook URL (every webhook of that receiver is pointed there). */
  webhooks: Record<string, string>;
  /** group_wait / group_interval for the root route and every child route. */
  groupWait?: string;
  groupInterval?: string;
}

/** The shipped Alertmanager config with test receivers and timings, as YAML text. */
export function overriddenAlertmanagerConfig(o: AlertmanagerOverride): string {
  const doc = parse(readFileSync(shippedAlertmanagerConfig, 'utf8'));
  // Child routes inherit from the root unless they set their own.
  for (const route of [doc.route, ...(doc.route.routes ?? [])]) {
    const isRoot = route === doc.route;
    if (o.groupWait && (isRoot || route.group_wait)) route.group_wait = o.groupWait;
    if (o.groupInterval && (isRoot || route.group_interval)) route.group_interval = o.groupInterval;
  }
  for (const receiver of doc.receivers) {
    const url = o.webhooks[receiver.name];
    if (!url) throw new Error(`no test webhook for receiver ${receiver.name}`);
    for (const hook of receiver.webhook_configs ?? []) hook.url = url;
  }
  return stringify(doc);
}
