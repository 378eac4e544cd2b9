// An in-process pull endpoint as the preload builds it: the config parsed from
// env, the readers from createMetricReaders, a real MeterProvider.
import type { Meter } from '@opentelemetry/api';
import { MeterProvider } from '@opentelemetry/sdk-metrics';
import { type JobwatchConfig, parseConfig } from '../../src/config.js';
import { createMetricReaders } from '../../src/metrics/readers.js';
import { freePort, waitFor } from '../helpers/ports.js';

export interface PullEndpoint {
  config: JobwatchConfig;
  meter: Meter;
  url: string;
  close(): Promise<void>;
}

export async function pullEndpoint(env: Record<string, string>): Promise<PullEndpoint> {
  const port = await freePort();
  const { config, errors } = parseConfig({ ...env, OTEL_EXPORTER_PROMETHEUS_PORT: String(port) });
  if (errors.length > 0) throw new Error(errors.join('; '));
  const provider = new MeterProvider({ readers: createMetricReaders(config) });
  const url = `http://127.0.0.1:${port}/metrics`;
  await waitFor(async () => (await fetch(url)).ok, { what: `/metrics on ${port}` });
  return { config, meter: provider.getMeter('jobwatch'), url, close: () => provider.shutdown() };
}
