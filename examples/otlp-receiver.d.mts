// Types of otlp-receiver.mjs, for the tests that use it.
export interface ReceivedSpan {
  traceId: string;
  spanId: string;
  parentSpanId: string;
  name: string;
  kind: number;
  attributes: Record<string, unknown>;
  events: { name: string; attributes: Record<string, unknown> }[];
  links: { traceId: string; spanId: string; attributes: Record<string, unknown> }[];
  status: { code: number; message: string };
  resource: Record<string, unknown>;
  scope: string;
}

export interface ReceivedMetric {
  name: string;
  unit: string;
  type: 'gauge' | 'sum' | 'histogram';
  resource: Record<string, unknown>;
  points: { attributes: Record<string, unknown>; value: number }[];
}

export interface ReceivedLog {
  eventName: string;
  severityNumber: number;
  severityText: string;
  body: unknown;
  attributes: Record<string, unknown>;
  traceId: string;
  spanId: string;
  resource: Record<string, unknown>;
  scope: string;
}

export interface OtlpReceiver {
  url: string;
  spans: ReceivedSpan[];
  metrics: ReceivedMetric[];
  logs: ReceivedLog[];
  close(): Promise<void>;
}

export function startOtlpReceiver(options?: {
  port?: number;
  onSpans?: (spans: ReceivedSpan[]) => void;
  onLogs?: (logs: ReceivedLog[]) => void;
}): Promise<OtlpReceiver>;
