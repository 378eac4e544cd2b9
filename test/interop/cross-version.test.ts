// Cross-version queues: while a fleet moves from BullMQ 5 to 6 (which BullMQ's
// migration guide allows once no legacy repeatable jobs are left), a producer
// on one major and a worker on the other share a queue. The job keeps one
// trace across them: the trace context travels in the job's telemetry
// metadata, which both majors store and read the same way.
import { describe, expect, it } from 'vitest';
import { BULLMQ_MAJORS } from '../helpers/bullmq-majors.js';
import { spawnNode } from '../helpers/node-process.js';
import { waitFor } from '../helpers/ports.js';
import { SPAN_KIND, usePreloadedSetup } from '../helpers/preloaded.js';

const setup = usePreloadedSetup();

describe.each([
  [5, 6],
  [6, 5],
] as const)('a producer on BullMQ %i and a worker on BullMQ %i', (producerMajor, workerMajor) => {
  const queue = `cross-${producerMajor}-to-${workerMajor}`;

  it('keep one trace: the process span is a child of the send span', async () => {
    const worker = spawnNode(
      ['--require', 'jobwatch/register', 'test/fixtures/worker.cjs'],
      await setup.env({
        QUEUE: queue,
        BULLMQ_PATH: BULLMQ_MAJORS[workerMajor],
        OTEL_SERVICE_NAME: `worker-${workerMajor}`,
      }),
    );
    await waitFor(() => worker.stdout.includes('ready'), { what: 'the worker', timeoutMs: 30_000 });
    const producer = spawnNode(
      ['--require', 'jobwatch/register', 'test/fixtures/producer.cjs'],
      await setup.env({
        QUEUE: queue,
        BULLMQ_PATH: BULLMQ_MAJORS[producerMajor],
        OTEL_SERVICE_NAME: `producer-${producerMajor}`,
      }),
    );
    const [, id, version] = await waitFor(
      () => /^added (\S+) with bullmq (\S+)$/m.exec(producer.stdout),
      { what: 'the producer', timeoutMs: 30_000 },
    );
    expect(version!.split('.')[0]).toBe(String(producerMajor));
    await waitFor(() => worker.stdout.includes(`processed ${id}`), { what: 'the job' });

    const processSpan = await waitFor(
      () =>
        setup.receiver.spans.find(
          (s) => s.kind === SPAN_KIND.CONSUMER && s.attributes['messaging.message.id'] === id,
        ),
      { what: 'the process span', timeoutMs: 20_000 },
    );
    const trace = await setup.trace(processSpan.traceId, (spans) =>
      spans.some((s) => s.kind === SPAN_KIND.PRODUCER),
    );
    const send = trace.find((s) => s.kind === SPAN_KIND.PRODUCER)!;
    expect(send).toMatchObject({ name: `send ${queue}` });
    expect(send.resource['service.name']).toBe(`producer-${producerMajor}`);
    expect(processSpan.resource['service.name']).toBe(`worker-${workerMajor}`);
    expect(processSpan.parentSpanId).toBe(send.spanId);
    expect(await producer.exited).toEqual({ code: 0, signal: null });
  }, 120_000);
});
