// Interop with BullMQ's native telemetry (bullmq-otel), both ways: the trace
// context format is the same, so a trace continues across the two; and an
// instance given BullMQ's own `telemetry` option gets BullMQ's spans only.
import { context, propagation, ROOT_CONTEXT, trace } from '@opentelemetry/api';
import type { ReadableSpan } from '@opentelemetry/sdk-trace';
import { BullMQOtel } from 'bullmq-otel';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { metadataFor } from '../../src/instrumentation/propagation.js';
import type { AttemptOutcome } from '../../src/lifecycle.js';
import { bullmqAtLeast } from '../helpers/bullmq-majors.js';
import { type Harness, isChildOf, startHarness } from './harness.js';

let h: Harness;
beforeAll(async () => {
  h = await startHarness();
});
afterAll(() => h?.stop());

const JOBWATCH_SCOPE = 'jobwatch-bullmq';
const fromJobwatch = (s: ReadableSpan) => s.instrumentationScope.name === JOBWATCH_SCOPE;
const fromBullMQ = (s: ReadableSpan) => s.instrumentationScope.name === 'interop-native';
/** BullMQ's own `telemetry` option came with 5.22.0. */
const itNative = it.skipIf(!bullmqAtLeast('5.22.0'));
/** Up to 5.33 a native worker reads trace metadata from opts.telemetryMetadata, which jobwatch does not write. */
const itNativeWorker = it.skipIf(!bullmqAtLeast('5.34.0'));

describe('bullmq-otel interop', () => {
  it('writes trace metadata byte for byte as bullmq-otel does', () => {
    const span = h.tracer.startSpan('request');
    const ctx = propagation.setBaggage(
      trace.setSpan(ROOT_CONTEXT, span),
      propagation.createBaggage({ tenant: { value: 'acme' } }),
    );
    const native = new BullMQOtel({ tracerName: 'interop-native' }).contextManager.getMetadata(ctx);
    expect(metadataFor(ctx)).toBe(native);
    expect(JSON.parse(native)).toMatchObject({
      traceparent: expect.any(String),
      baggage: 'tenant=acme',
    });
    span.end();
  });

  itNative(
    'continues a trace started by a native-telemetry producer in a jobwatch worker',
    async () => {
      const name = h.queueName('native-producer');
      const telemetry = new BullMQOtel({ tracerName: 'interop-native' });
      const queue = h.track(new h.bullmq.Queue(name, { connection: h.connection, telemetry }));
      h.track(new h.bullmq.Worker(name, async () => 'ok', { connection: h.connection }));
      const request = h.tracer.startSpan('request');
      await context.with(trace.setSpan(context.active(), request), () => queue.add('job', {}));
      request.end();

      const [processSpan] = await h.waitForSpans(
        (s) => fromJobwatch(s) && s.name === `process ${name}`,
      );
      const nativeAdd = h.spans().find((s) => fromBullMQ(s) && s.name === `add ${name}.job`)!;
      expect(nativeAdd).toBeDefined();
      expect(isChildOf(processSpan!, nativeAdd)).toBe(true);
      // the native queue gets BullMQ's span, not a second one from jobwatch
      expect(h.spans().filter((s) => fromJobwatch(s) && s.name === `send ${name}`)).toHaveLength(0);
    },
  );

  itNativeWorker(
    'continues a jobwatch trace in a native-telemetry worker, and still reports its attempts',
    async () => {
      const name = h.queueName('native-worker');
      const telemetry = new BullMQOtel({ tracerName: 'interop-native' });
      const queue = h.track(new h.bullmq.Queue(name, { connection: h.connection }));
      const outcomes: AttemptOutcome[] = [];
      h.observe({
        attemptEnded: (_w, job, outcome) => job.queueName === name && outcomes.push(outcome),
      });
      h.track(new h.bullmq.Worker(name, async () => 'ok', { connection: h.connection, telemetry }));
      await queue.add('job', {});

      const [nativeProcess] = await h.waitForSpans(
        (s) => fromBullMQ(s) && s.name === `process ${name}`,
      );
      const send = h.spans().find((s) => fromJobwatch(s) && s.name === `send ${name}`)!;
      expect(isChildOf(nativeProcess!, send)).toBe(true);
      expect(h.spans().filter((s) => fromJobwatch(s) && s.name === `process ${name}`)).toHaveLength(
        0,
      );
      expect(outcomes).toEqual([{ status: 'completed' }]);
    },
  );
});

describe('a FlowProducer with native telemetry', () => {
  itNative('gets BullMQ’s spans only, and its jobs are still counted', async () => {
    const parent = h.queueName('native-flow-parent');
    const child = h.queueName('native-flow-child');
    const sent: [string, string, number][] = [];
    h.observe({ jobsSent: (queue, name, count) => sent.push([queue, name, count]) });
    const telemetry = new BullMQOtel({ tracerName: 'interop-native' });
    const flows = h.track(new h.bullmq.FlowProducer({ connection: h.connection, telemetry }));
    await flows.add({
      name: 'p',
      queueName: parent,
      children: [
        { name: 'c', queueName: child },
        { name: 'c', queueName: child },
      ],
    });
    expect(sent).toEqual(
      expect.arrayContaining([
        [parent, 'p', 1],
        [child, 'c', 2],
      ]),
    );
    expect(h.spans().filter(fromBullMQ).length).toBeGreaterThan(0);
    expect(h.spans().filter((s) => fromJobwatch(s) && s.name.includes('native-flow'))).toEqual([]);
  });
});
