// What of a job reaches telemetry: by default no payload, no result and no
// error message, in any span attribute, event, status or metric label; the
// opt-in switches add them, bounded by captureMaxBytes.
import { SpanStatusCode } from '@opentelemetry/api';
import type { ReadableSpan } from '@opentelemetry/sdk-trace';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config.js';
import type { BullMQInstrumentationConfig } from '../../src/instrumentation/types.js';
import { JobMetrics } from '../../src/metrics/job-metrics.js';
import { type PullEndpoint, pullEndpoint } from '../metrics/pull.js';
import { scrape } from '../metrics/scrape.js';
import { type Harness, named, startHarness } from './harness.js';

let h: Harness;
let metrics: PullEndpoint;
beforeAll(async () => {
  h = await startHarness();
  metrics = await pullEndpoint({});
  h.observe(new JobMetrics(metrics.meter));
});
afterAll(async () => {
  await metrics?.close();
  await h?.stop();
});

function configure(config: BullMQInstrumentationConfig) {
  h.instrumentation.setConfig(config);
}
beforeEach(() => configure({}));

const SECRET = 'alice@example.com';

class PaymentDeclined extends Error {}

/** Every string a backend would store for these spans. */
function everything(spans: ReadableSpan[]): string {
  return JSON.stringify(
    spans.map((s) => ({
      name: s.name,
      attributes: s.attributes,
      events: s.events.map((e) => [e.name, e.attributes]),
      links: s.links.map((l) => l.attributes),
      status: s.status,
    })),
  );
}

const exceptionOf = (span: ReadableSpan) =>
  span.events.find((e) => e.name === 'exception')?.attributes ?? {};

async function failOnce(label: string, thrown: () => unknown, data: unknown = { email: SECRET }) {
  const { name, queue } = h.queueWithWorker(label, async () => {
    throw thrown();
  });
  await queue.add('charge', data);
  const [span] = await h.waitForSpans(named(`process ${name}`));
  const spans = h.spans().filter((s) => s.name.endsWith(` ${name}`));
  return { name, span: span!, spans };
}

describe('by default', () => {
  it('records a failure by its type and stack frames, without the message, its data or its result', async () => {
    const { name, span, spans } = await failOnce(
      'default-error',
      () => new PaymentDeclined(`card declined for ${SECRET}\nsecond line ${SECRET}`),
    );
    expect(span.status).toEqual({ code: SpanStatusCode.ERROR });
    expect(span.attributes['error.type']).toBe('PaymentDeclined');
    const exception = exceptionOf(span);
    expect(exception['exception.type']).toBe('PaymentDeclined');
    expect(exception['exception.message']).toBeUndefined();
    const stack = String(exception['exception.stacktrace']);
    expect(stack.split('\n')[0]).toBe('PaymentDeclined');
    expect(stack).toMatch(/\n\s+at .*privacy\.test\.ts/); // the frames that locate the bug stay
    expect(everything(spans)).not.toContain(SECRET);
    expect(spans.map((s) => s.name).sort()).toEqual([`process ${name}`, `send ${name}`]);
  });

  it('records a thrown non-Error by its type alone', async () => {
    const { span, spans } = await failOnce('default-string', () => `no such user ${SECRET}`);
    expect(exceptionOf(span)).toEqual({ 'exception.type': 'string' });
    expect(everything(spans)).not.toContain(SECRET);
  });

  it('puts no job data or result on any span, nor in any metric label', async () => {
    configure({ bulkCreateSpans: true }); // every kind of span
    const { name, queue } = h.queueWithWorker('default-data', async () => ({ token: SECRET }));
    await queue.addBulk([{ name: 'a', data: { email: SECRET } }]);
    await queue.add('b', { email: SECRET });
    await h.waitForSpans(named(`process ${name}`), 2);
    const spans = h.spans().filter((s) => s.name.endsWith(` ${name}`));
    expect(spans.map((s) => s.name)).toContain(`create ${name}`);
    expect(everything(spans)).not.toContain(SECRET);
    const exposition = await scrape(metrics.url);
    expect(exposition.text).toContain(name);
    expect(exposition.text).not.toContain(SECRET);
    expect(exposition.text).not.toContain('example.com');
  });

  it('never serialises job data for telemetry (only BullMQ does)', async () => {
    let serialised = 0;
    const data = {
      toJSON() {
        serialised += 1;
        return { n: 1 };
      },
    };
    const { name, queue } = h.queueWithWorker('no-stringify');
    await queue.add('off', data);
    const byBullMQ = serialised;
    configure({ captureJobData: true });
    await queue.add('on', data);
    await h.waitForSpans(named(`send ${name}`), 2);
    expect(byBullMQ).toBeGreaterThan(0);
    expect(serialised).toBe(2 * byBullMQ + 1); // BullMQ's again, plus jobwatch's one when enabled
  });
});

describe('with the capture switches on', () => {
  it('captureErrorMessage records the message and the status description, bounded in bytes', async () => {
    configure({ captureErrorMessage: true });
    const { span } = await failOnce('message', () => new PaymentDeclined(`declined ${SECRET}`));
    expect(exceptionOf(span)['exception.message']).toBe(`declined ${SECRET}`);
    expect(String(exceptionOf(span)['exception.stacktrace'])).toContain(`declined ${SECRET}`);
    expect(span.status).toEqual({ code: SpanStatusCode.ERROR, message: `declined ${SECRET}` });

    configure({ captureErrorMessage: true, captureMaxBytes: 10 });
    const cut = await failOnce('message-cut', () => new Error('déclinée déclinée'));
    expect(exceptionOf(cut.span)['exception.message']).toBe('déclinée'); // 10 bytes (é is 2); the space would be the 11th
    expect(cut.span.status.message).toBe('déclinée');
  });

  it('captureJobData puts the job data as JSON on the send, create and process spans, bounded in bytes', async () => {
    configure({ captureJobData: true, bulkCreateSpans: true });
    const data = { email: SECRET, items: [1, 2] };
    const { name, queue } = h.queueWithWorker('data');
    await queue.add('one', data);
    await queue.addBulk([{ name: 'bulk', data }]);
    const processed = await h.waitForSpans(named(`process ${name}`), 2);
    const [send] = h
      .spans()
      .filter((s) => named(`send ${name}`)(s) && s.attributes['bullmq.job.name'] === 'one');
    const [create] = h.spans().filter(named(`create ${name}`));
    for (const span of [send!, create!, ...processed])
      expect(span.attributes['bullmq.job.data']).toBe(JSON.stringify(data));

    configure({ captureJobData: true, captureMaxBytes: 12 });
    const big = { text: 'é'.repeat(1000) };
    const other = h.queueWithWorker('data-cut');
    await other.queue.add('big', big);
    const [cutSpan] = await h.waitForSpans(named(`process ${other.name}`));
    const captured = String(cutSpan!.attributes['bullmq.job.data']);
    expect(captured).toBe('{"text":"é'); // 11 bytes: the next é would make 13
    expect(JSON.stringify(big).startsWith(captured)).toBe(true);
  });
});

describe('the switches as settings', () => {
  it('are off by default, read from JOBWATCH_* variables, and a bad value is one error line', () => {
    expect(parseConfig({}).config).toMatchObject({
      captureErrorMessage: false,
      captureJobData: false,
      captureMaxBytes: 1024,
      maxChainDepth: 10,
    });
    const on = parseConfig({
      JOBWATCH_CAPTURE_ERROR_MESSAGE: 'true',
      JOBWATCH_CAPTURE_JOB_DATA: 'true',
      JOBWATCH_CAPTURE_MAX_BYTES: '4096',
      JOBWATCH_MAX_CHAIN_DEPTH: '3',
    });
    expect(on.errors).toEqual([]);
    expect(on.config).toMatchObject({
      captureErrorMessage: true,
      captureJobData: true,
      captureMaxBytes: 4096,
      maxChainDepth: 3,
    });
    const bad = parseConfig({
      JOBWATCH_CAPTURE_MAX_BYTES: '1kb',
      JOBWATCH_CAPTURE_JOB_DATA: 'all',
    });
    expect(bad.config.captureMaxBytes).toBe(1024);
    expect(bad.config.captureJobData).toBe(false);
    expect(bad.errors).toEqual([
      'invalid JOBWATCH_CAPTURE_JOB_DATA="all": expected true or false; using false',
      'invalid JOBWATCH_CAPTURE_MAX_BYTES="1kb": expected a whole number of bytes from 1 to 1048576; using 1024',
    ]);
  });
});
