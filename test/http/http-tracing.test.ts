// jobwatch's own HTTP spans (src/http), in a preloaded ES module app: the
// request that enqueues a job continues its caller's trace, and the job's
// outgoing calls (http.get and fetch) carry the job's trace to the service
// they call. No query string reaches a span; the OTLP exporter's own requests
// make no spans; a refused call is the app's error, recorded on its span.
import { createServer, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawnNode } from '../helpers/node-process.js';
import { freePort, waitFor } from '../helpers/ports.js';
import { processed, SPAN_KIND, usePreloadedSetup } from '../helpers/preloaded.js';

const setup = usePreloadedSetup();
const downstreamHeaders: { path: string; headers: IncomingHttpHeaders }[] = [];
const downstream = createServer((req, res) => {
  downstreamHeaders.push({ path: req.url ?? '', headers: req.headers });
  res.end('ok');
});

beforeAll(() => new Promise<void>((resolve) => downstream.listen(0, '127.0.0.1', resolve)));
afterAll(() => new Promise<void>((resolve) => downstream.close(() => resolve())));

const TRACE_ID = '4bf92f3577b34da6a3ce929d0e0e4736';
const CALLER_SPAN = '00f067aa0ba902b7';

describe('HTTP spans of a preloaded app', () => {
  it('continue the caller trace through the job into the calls it makes', async () => {
    const { port: downstreamPort } = downstream.address() as AddressInfo;
    const app = spawnNode(
      ['--import', 'jobwatch/register', 'test/fixtures/http-calls.mjs'],
      await setup.env({
        QUEUE: 'http-calls',
        DOWNSTREAM: `http://127.0.0.1:${downstreamPort}`,
        CLOSED_PORT: String(await freePort()),
      }),
    );
    const port = (await waitFor(() => /listening (\d+)/.exec(app.stdout), { what: 'the app' }))[1];
    const res = await fetch(`http://127.0.0.1:${port}/jobs?secret=hunter2`, {
      method: 'POST',
      headers: { traceparent: `00-${TRACE_ID}-${CALLER_SPAN}-01` },
    });
    const { id } = (await res.json()) as { id: string };
    await waitFor(() => processed(app).includes(id), { what: `job ${id}` });

    const spans = await setup.trace(
      TRACE_ID,
      (s) => s.filter((x) => x.kind === SPAN_KIND.CLIENT).length >= 3,
    );
    const server = spans.find((s) => s.kind === SPAN_KIND.SERVER)!;
    expect(server.parentSpanId).toBe(CALLER_SPAN);
    expect(server.name).toBe('POST');
    expect(server.attributes).toMatchObject({
      'http.request.method': 'POST',
      'url.path': '/jobs',
      'url.scheme': 'http',
      'http.response.status_code': 202,
    });
    const send = spans.find((s) => s.kind === SPAN_KIND.PRODUCER)!;
    expect(send.parentSpanId).toBe(server.spanId);
    const processSpan = spans.find((s) => s.kind === SPAN_KIND.CONSUMER)!;
    expect(processSpan.parentSpanId).toBe(send.spanId);

    const clients = spans.filter((s) => s.kind === SPAN_KIND.CLIENT);
    for (const client of clients) expect(client.parentSpanId).toBe(processSpan.spanId);
    const byPath = (path: string) =>
      clients.find((c) => String(c.attributes['url.full']).endsWith(path))!;
    for (const path of ['/via-http', '/via-fetch']) {
      const client = byPath(path);
      expect(client.name).toBe('GET');
      expect(client.attributes).toMatchObject({
        'http.request.method': 'GET',
        'url.full': `http://127.0.0.1:${downstreamPort}${path}`,
        'server.port': downstreamPort,
        'http.response.status_code': 200,
      });
      // The called service continues the job's trace, from this client span.
      const seen = downstreamHeaders.find((d) => d.path.startsWith(path))!;
      expect(seen.headers.traceparent).toMatch(new RegExp(`^00-${TRACE_ID}-${client.spanId}-01$`));
    }
    const refused = byPath('/nothing');
    expect(refused.attributes['error.type']).toBe('ECONNREFUSED');
    expect(refused.status.code).toBe(2);
    expect(app.stdout).toContain('refused ECONNREFUSED');

    // Nothing of the query strings, and no span for the exporter's own requests.
    expect(JSON.stringify(setup.receiver.spans)).not.toMatch(/hunter2|s3cret/);
    const receiverPort = new URL(setup.receiver.url).port;
    expect(
      setup.receiver.spans.filter((s) => String(s.attributes['server.port']) === receiverPort),
    ).toEqual([]);
    expect(app.stderr).not.toContain('[jobwatch] error');
  });
});
