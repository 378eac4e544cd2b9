// jobwatch's own servers make no spans: scrapes of /metrics and probes of
// /health/* never become traces, whichever SDK's HTTP instrumentation serves
// the app (jobwatch's own, or auto-instrumentations-node's that it joins).
// The app's own requests are still traced.
import { describe, expect, it } from 'vitest';
import { spawnNode } from '../helpers/node-process.js';
import { freePort, waitFor } from '../helpers/ports.js';
import { SPAN_KIND, usePreloadedSetup } from '../helpers/preloaded.js';

const setup = usePreloadedSetup();
const AUTO = '@opentelemetry/auto-instrumentations-node/register';

// The joined SDK's metrics are its own (OTLP by default): only the health endpoints are jobwatch's there.
describe.each([
  ['jobwatch alone', ['jobwatch/register'], true],
  ['auto-instrumentations-node first', [AUTO, 'jobwatch/register'], false],
])('with %s', (label, preloads, ownMetrics) => {
  it('traces the app request but no scrape or probe', async () => {
    const queue = `noise-${preloads.length}`;
    const healthPort = await freePort();
    const env = await setup.env({
      QUEUE: queue,
      OTEL_SERVICE_NAME: queue,
      JOBWATCH_HEALTH_PORT: String(healthPort),
      OTEL_NODE_ENABLED_INSTRUMENTATIONS: 'http',
      OTEL_NODE_RESOURCE_DETECTORS: 'env',
      ...(ownMetrics ? {} : { OTEL_METRICS_EXPORTER: 'none' }),
    });
    const app = spawnNode(
      [...preloads.flatMap((p) => ['--require', p]), 'test/fixtures/http-app.cjs'],
      env,
    );
    const port = (
      await waitFor(() => /listening (\d+)/.exec(app.stdout), {
        what: `the app (${label})`,
        timeoutMs: 60_000,
      })
    )[1];
    const metrics = `http://127.0.0.1:${env.OTEL_EXPORTER_PROMETHEUS_PORT}/metrics`;
    const probes = ['live', 'ready', 'queues'].map(
      (p) => `http://127.0.0.1:${healthPort}/health/${p}`,
    );
    const urls = ownMetrics ? [metrics, ...probes] : probes;
    await waitFor(async () => (await fetch(urls[0]!)).ok, { what: urls[0] });
    for (let i = 0; i < 5; i++) {
      for (const url of urls) await (await fetch(url)).text();
    }
    // The app's request ends after every scrape and probe: once its span is
    // here, theirs would be too.
    const res = await fetch(`http://127.0.0.1:${port}/jobs`, { method: 'POST' });
    expect(res.status).toBe(202);
    await waitFor(
      () =>
        setup.receiver.spans.find(
          (s) => s.kind === SPAN_KIND.SERVER && s.resource['service.name'] === queue,
        ),
      { what: 'the POST span', timeoutMs: 20_000 },
    );
    const servers = setup.receiver.spans.filter(
      (s) => s.kind === SPAN_KIND.SERVER && s.resource['service.name'] === queue,
    );
    expect(
      servers.map((s) => s.attributes['http.request.method'] ?? s.attributes['http.method']),
    ).toEqual(['POST']);
  });
});
