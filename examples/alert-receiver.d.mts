/** Alertmanager's webhook payload (version 4), as far as the receiver reads it. */
export interface WebhookNotification {
  receiver: string;
  status: 'firing' | 'resolved';
  groupLabels: Record<string, string>;
  alerts: {
    status: 'firing' | 'resolved';
    labels: Record<string, string>;
    annotations: Record<string, string>;
  }[];
}

export function formatNotification(notification: WebhookNotification): string[];

export function startAlertReceiver(options?: {
  host?: string;
  port?: number;
  onNotification?: (notification: WebhookNotification) => void;
}): Promise<{ url: string; close: () => Promise<void> }>;
