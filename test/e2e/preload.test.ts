// The preload as users run it: real node processes started with
// `--require jobwatch/register` or `--import jobwatch/register`, a real Redis,
// and a real OTLP/HTTP receiver (protobuf, the exporters' default encoding).
import { describe, expect, it } from 'vitest';
import { spawnNode } from '../helpers/node-process.js';
import { freePort, waitFor } from '../helpers/ports.js';
import { processed, SPAN_KIND, usePreloadedSetup } from '../helpers/preloaded.js';

const { SERVER, PRODUCER, CONSUMER } = SPAN_KIND;
const setup = usePreloadedSetup();
const preloadEnv = (extra?: Record<string, string>) => setup.env(extra);
const addJobs = (queueName: string, n: number) => setup.addJobs(queueName, n);

describe('jobwatch/register', () => {
  it('traces a request to a CommonJS API through Redis to an ESM worker, in one trace', async () => {
    const port = await freePort();
    const api = spawnNode(
      ['--require', 'jobwatch/register', 'examples/api.cjs'],
      await preloadEnv({ PORT: String(port), OTEL_SERVICE_NAME: 'demo-api' }),
    );
    spawnNode(
      ['--import', 'jobwatch/register', 'examples/worker.mjs'],
      await preloadEnv({ FAIL_RATE: '0', OTEL_SERVICE_NAME: 'demo-worker' }),
    );
    await waitFor(() => api.stdout.includes('listening'), { what: 'the API' });

    const res = await fetch(`http://127.0.0.1:${port}/orders`, { method: 'POST' });
    const { jobId } = (await res.json()) as { jobId: string };

    const processSpan = await waitFor(
      () =>
        setup.receiver.spans.find(
          (s) => s.kind === CONSUMER && s.attributes['messaging.message.id'] === jobId,
        ),
      { what: 'the process span', timeoutMs: 20_000 },
    );
    const trace = await waitFor(
      () => {
        const spans = setup.receiver.spans.filter((s) => s.traceId === processSpan.traceId);
        return spans.some((s) => s.kind === SERVER) ? spans : undefined;
      },
      { what: 'the rest of the trace' },
    );
    const server = trace.find((s) => s.kind === SERVER)!;
    const send = trace.find((s) => s.kind === PRODUCER && s.name === 'send orders')!;
    expect(server.resource['service.name']).toBe('demo-api');
    expect(server.attributes['http.request.method'] ?? server.attributes['http.method']).toBe(
      'POST',
    );
    expect(send.parentSpanId).toBe(server.spanId);
    expect(send.resource['service.name']).toBe('demo-api');
    expect(processSpan.name).toBe('process orders');
    expect(processSpan.parentSpanId).toBe(send.spanId);
    expect(processSpan.resource['service.name']).toBe('demo-worker');
  });

  it('keeps processing every job, with one clear warning, when the trace exporter is down', async () => {
    const closedPort = await freePort();
    const worker = spawnNode(
      ['--require', 'jobwatch/register', 'test/fixtures/worker.cjs'],
      await preloadEnv({
        QUEUE: 'exporter-down',
        OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${closedPort}`,
        OTEL_EXPORTER_OTLP_TIMEOUT: '500',
      }),
    );
    const exportWarnings = () =>
      worker.stderr.split('\n').filter((l) => l.includes('[jobwatch]') && /export/i.test(l));
    const ids = await addJobs('exporter-down', 2000);
    await waitFor(() => processed(worker).length >= ids.length, {
      what: 'all jobs',
      timeoutMs: 60_000,
    });
    await waitFor(() => exportWarnings().length > 0, { what: 'the export warning' });
    await new Promise((r) => setTimeout(r, 3000)); // several more failed export rounds
    expect(new Set(processed(worker))).toEqual(new Set(ids));
    const warnings = exportWarnings();
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toContain(`127.0.0.1:${closedPort}`);
    expect(worker.running).toBe(true);
  });

  it('flushes spans on SIGTERM and then dies of SIGTERM, as the app would without jobwatch', async () => {
    const worker = spawnNode(
      ['--require', 'jobwatch/register', 'test/fixtures/worker.cjs'],
      await preloadEnv({ QUEUE: 'sigterm', OTEL_BSP_SCHEDULE_DELAY: '600000' }),
    );
    const [id] = await addJobs('sigterm', 1);
    await waitFor(() => processed(worker).includes(id!), { what: 'the job' });
    expect(setup.receiver.spans.some((s) => s.attributes['messaging.message.id'] === id)).toBe(
      false,
    );

    const exit = await worker.stop('SIGTERM');
    expect(exit).toEqual({ code: null, signal: 'SIGTERM' });
    expect(
      setup.receiver.spans.some(
        (s) => s.kind === CONSUMER && s.attributes['messaging.message.id'] === id,
      ),
    ).toBe(true);
  });

  it("leaves SIGTERM to the app's own handler, and worker.close() flushes the spans before it exits", async () => {
    const worker = spawnNode(
      ['--require', 'jobwatch/register', 'test/fixtures/worker.cjs'],
      await preloadEnv({
        QUEUE: 'app-sigterm',
        APP_SIGTERM: '1',
        OTEL_BSP_SCHEDULE_DELAY: '600000',
      }),
    );
    const [id] = await addJobs('app-sigterm', 1);
    await waitFor(() => processed(worker).includes(id!), { what: 'the job' });
    const exit = await worker.stop('SIGTERM');
    expect(worker.stdout).toContain('app handled SIGTERM');
    expect(exit).toEqual({ code: 0, signal: null });
    expect(
      setup.receiver.spans.some(
        (s) => s.kind === CONSUMER && s.attributes['messaging.message.id'] === id,
      ),
    ).toBe(true);
  });

  it.each([
    ['OTEL_SDK_DISABLED', 'true'],
    ['JOBWATCH_ENABLED', 'false'],
  ])('does nothing and opens no port when %s=%s', async (name, value) => {
    const metricsPort = await freePort();
    const healthPort = await freePort();
    const worker = spawnNode(
      ['--require', 'jobwatch/register', 'test/fixtures/worker.cjs'],
      await preloadEnv({
        QUEUE: `disabled-${name}`,
        [name]: value,
        OTEL_EXPORTER_PROMETHEUS_PORT: String(metricsPort),
        JOBWATCH_HEALTH_PORT: String(healthPort),
      }),
    );
    const [id] = await addJobs(`disabled-${name}`, 1);
    await waitFor(() => processed(worker).includes(id!), { what: 'the job' });
    await new Promise((r) => setTimeout(r, 500));
    await expect(fetch(`http://127.0.0.1:${metricsPort}/metrics`)).rejects.toThrow();
    await expect(fetch(`http://127.0.0.1:${healthPort}/health/live`)).rejects.toThrow();
    expect(setup.receiver.spans).toEqual([]);
    expect(worker.stderr).toBe('');
  });

  it('reports a bad setting in one line and runs the app with the default', async () => {
    const worker = spawnNode(
      ['--require', 'jobwatch/register', 'test/fixtures/worker.cjs'],
      await preloadEnv({ QUEUE: 'bad-config', JOBWATCH_HEARTBEAT_INTERVAL_MS: 'fast' }),
    );
    const [id] = await addJobs('bad-config', 1);
    await waitFor(() => processed(worker).includes(id!), { what: 'the job' });
    const lines = worker.stderr
      .split('\n')
      .filter((l) => l.includes('JOBWATCH_HEARTBEAT_INTERVAL_MS'));
    expect(lines).toEqual([
      '[jobwatch] error: invalid JOBWATCH_HEARTBEAT_INTERVAL_MS="fast": expected a whole number of milliseconds from 100 to 600000; using 5000',
    ]);
  });
});
