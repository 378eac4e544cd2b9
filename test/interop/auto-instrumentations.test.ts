// jobwatch together with @opentelemetry/auto-instrumentations-node, both as
// preloads, in both orders: one SDK, one span per operation (the HTTP server
// span, send, process), and BullMQ's own Redis commands still silent although
// the auto-instrumentations include instrumentation-ioredis.
import { describe, expect, it } from 'vitest';
import { spawnNode } from '../helpers/node-process.js';
import { waitFor } from '../helpers/ports.js';
import { type ReceivedSpan, SPAN_KIND, usePreloadedSetup } from '../helpers/preloaded.js';

const { SERVER, PRODUCER, CONSUMER } = SPAN_KIND;
const AUTO = '@opentelemetry/auto-instrumentations-node/register';
const JOBWATCH = 'jobwatch/register';

const setup = usePreloadedSetup();

const isRedisSpan = (s: ReceivedSpan) =>
  s.attributes['db.system'] === 'redis' || s.attributes['db.system.name'] === 'redis';

/** Starts the HTTP + worker app with `preloads` in this order, sends one request, returns its trace. */
async function oneRequest(queue: string, preloads: string[], env: Record<string, string> = {}) {
  const app = spawnNode(
    [...preloads.flatMap((p) => ['--require', p]), 'test/fixtures/http-app.cjs'],
    await setup.env({
      QUEUE: queue,
      OTEL_SERVICE_NAME: queue,
      // no cloud detectors: they would probe metadata endpoints this machine does not have
      OTEL_NODE_RESOURCE_DETECTORS: 'env,host,os,process,serviceinstance',
      ...env,
    }),
  );
  const port = Number(
    (
      await waitFor(
        () => {
          if (!app.running) throw new Error(`the app exited: ${app.stderr}`);
          return /listening (\d+)/.exec(app.stdout);
        },
        {
          what: 'the app',
          // loading every auto-instrumentation takes seconds on a busy CI machine
          timeoutMs: 60_000,
        },
      )
    )[1],
  );
  const res = await fetch(`http://127.0.0.1:${port}/jobs`, { method: 'POST' });
  const { id } = (await res.json()) as { id: string };
  await waitFor(() => app.stdout.includes(`processed ${id}`), { what: 'the job' });
  const process = await waitFor(
    () =>
      setup.receiver.spans.find(
        (s) => s.kind === CONSUMER && s.attributes['messaging.message.id'] === id,
      ),
    { what: 'the process span', timeoutMs: 20_000 },
  );
  await new Promise((r) => setTimeout(r, 1000)); // let any duplicate arrive too
  const ofApp = setup.receiver.spans.filter((s) => s.resource['service.name'] === queue);
  return { app, process, ofApp, trace: ofApp.filter((s) => s.traceId === process.traceId) };
}

describe.each([
  ['auto-instrumentations first', [AUTO, JOBWATCH]],
  ['jobwatch first', [JOBWATCH, AUTO]],
])('with %s', (label, preloads) => {
  const queue = `auto-${label.split(' ')[0]}`;

  it('makes one trace with one server, one send and one process span, and no Redis spans', async () => {
    const { app, trace, ofApp } = await oneRequest(queue, preloads);
    const server = trace.filter((s) => s.kind === SERVER);
    const send = trace.filter((s) => s.kind === PRODUCER);
    const process = trace.filter((s) => s.kind === CONSUMER);
    expect(server).toHaveLength(1);
    expect(send.map((s) => s.name)).toEqual([`send ${queue}`]);
    expect(process.map((s) => s.name)).toEqual([`process ${queue}`]);
    expect(send[0]!.parentSpanId).toBe(server[0]!.spanId);
    expect(process[0]!.parentSpanId).toBe(send[0]!.spanId);
    expect(ofApp.filter(isRedisSpan)).toEqual([]);
    // one SDK: every span of the process carries the one resource it made
    expect(new Set(ofApp.map((s) => s.resource['service.instance.id'])).size).toBe(1);
    expect(app.stderr).not.toMatch(/duplicate|error/i);
    // jobwatch's metrics flow through that SDK's meter provider (OTLP, its default): the same SDK in both orders
    await waitFor(
      () =>
        setup.receiver.metrics.some(
          (m) =>
            m.name === 'messaging.client.consumed.messages' &&
            m.points.some((p) => p.attributes['messaging.destination.name'] === queue),
        ),
      { what: 'jobwatch metrics over OTLP' },
    );
  }, 120_000);

  it('shows the Redis spans only when JOBWATCH_TRACE_REDIS asks for them (so ioredis is instrumented)', async () => {
    const { ofApp } = await oneRequest(`${queue}-redis`, preloads, {
      JOBWATCH_TRACE_REDIS: 'true',
    });
    expect(ofApp.filter(isRedisSpan).length).toBeGreaterThan(0);
  }, 120_000);
});
