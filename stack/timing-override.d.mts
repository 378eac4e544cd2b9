export interface RulesOverride {
  /** Replaces every alert's `for` (e.g. '3s'). */
  for?: string;
  /** New values for threshold constants, by name: { queue_backlog_jobs: 5 } sets jobwatch:threshold:queue_backlog_jobs. */
  thresholds?: Record<string, number>;
}

export interface AlertmanagerOverride {
  /** Receiver name → webhook URL (every webhook of that receiver is pointed there). */
  webhooks: Record<string, string>;
  /** group_wait / group_interval for the root route and every child route. */
  groupWait?: string;
  groupInterval?: string;
}

export function overrideRules(text: string, o: RulesOverride): string;
export function overrideAlertmanagerConfig(text: string, o: AlertmanagerOverride): string;
