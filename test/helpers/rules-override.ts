// The documented test override (docs/runbook.md#testing-the-alerts), as files:
// stack/timing-override.mjs (shared with the demo) applied to the shipped alert
// rules and Alertmanager config, so a test can watch an alert fire in seconds
// while every expression stays exactly as shipped.
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import {
  type AlertmanagerOverride,
  overrideAlertmanagerConfig,
  overrideRules,
  type RulesOverride,
} from '../../stack/timing-override.mjs';

export type { AlertmanagerOverride, RulesOverride };

export const repoRoot = resolve(__dirname, '../..');
export const shippedRules = join(repoRoot, 'alerts/jobwatch.rules.yml');
export const shippedAlertmanagerConfig = join(repoRoot, 'alerts/alertmanager.yml');

/** Writes an overridden copy of `rulesFile` into `dir` and returns its path. */
export function writeOverriddenRules(
  dir: string,
  o: RulesOverride,
  rulesFile = shippedRules,
): string {
  mkdirSync(dir, { recursive: true });
  const out = join(dir, basename(rulesFile));
  writeFileSync(out, overrideRules(readFileSync(rulesFile, 'utf8'), o));
  return out;
}

/** The shipped Alertmanager config with test receivers and timings, as YAML text. */
export function overriddenAlertmanagerConfig(o: AlertmanagerOverride): string {
  return overrideAlertmanagerConfig(readFileSync(shippedAlertmanagerConfig, 'utf8'), o);
}
