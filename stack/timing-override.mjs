// The documented timing override (docs/runbook.md#testing-the-alerts): the shipped
// alert rules and Alertmanager config with only their timings, threshold constants
// and receiver URLs changed, so that the demo and the tests can watch an alert fire
// in seconds while every expression and route stays exactly as shipped.
import { parse, stringify } from 'yaml';

/**
 * Rules text with every alert's `for` replaced by `o.for` (alerts without a `for`
 * keep none) and the named `jobwatch:threshold:*` constants set to new values.
 */
export function overrideRules(text, o) {
  const doc = parse(text);
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
  return stringify(doc);
}

/**
 * Alertmanager config text with every webhook of each receiver pointed at
 * `o.webhooks[receiver]`, and group_wait / group_interval set on the root route and
 * on every child route that sets its own.
 */
export function overrideAlertmanagerConfig(text, o) {
  const doc = parse(text);
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
