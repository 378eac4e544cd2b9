// A NestJS app (@nestjs/bullmq: a @Processor class extending WorkerHost, a
// producer using @InjectQueue) gets the same spans, metrics and worker status
// as a plain BullMQ app, with only the preload.
import { describe, expect, it } from 'vitest';
import { spawnNode } from '../helpers/node-process.js';
import { waitFor } from '../helpers/ports.js';
import { SPAN_KIND, usePreloadedSetup } from '../helpers/preloaded.js';
import { scrape } from '../metrics/scrape.js';

const setup = usePreloadedSetup();
const QUEUE = 'nest-orders';

describe('a NestJS app with @nestjs/bullmq', () => {
  it('traces send and process in one trace and reports its worker on /metrics', async () => {
    const env = await setup.env({ QUEUE, ORDERS: '2', OTEL_SERVICE_NAME: 'nest-app' });
    const app = spawnNode(['--require', 'jobwatch/register', 'test/nestjs/app/main.cjs'], env);
    const ids = await waitFor(
      () => {
        const ordered = [...app.stdout.matchAll(/^ordered (\S+)$/gm)].map((m) => m[1]!);
        return ordered.length === 2 ? ordered : undefined;
      },
      { what: 'two orders', timeoutMs: 45_000 }, // Nest starts slowly on a busy machine,
    );
    await waitFor(() => ids.every((id) => app.stdout.includes(`processed ${id}`)), {
      what: 'the jobs',
    });

    for (const id of ids) {
      const processSpan = await waitFor(
        () =>
          setup.receiver.spans.find(
            (s) => s.kind === SPAN_KIND.CONSUMER && s.attributes['messaging.message.id'] === id,
          ),
        { what: `the process span of ${id}` },
      );
      const [send] = await setup.trace(processSpan.traceId, (spans) =>
        spans.some((s) => s.kind === SPAN_KIND.PRODUCER),
      );
      expect(processSpan).toMatchObject({ name: `process ${QUEUE}`, parentSpanId: send!.spanId });
      expect(send).toMatchObject({ name: `send ${QUEUE}` });
      expect(send!.attributes['messaging.message.id']).toBe(id);
    }

    const url = `http://127.0.0.1:${env.OTEL_EXPORTER_PROMETHEUS_PORT}/metrics`;
    const ofQueue = (name: string) => async () =>
      (await scrape(url)).samples.find(
        (s) => s.name === name && s.labels.messaging_destination_name === QUEUE,
      );
    const status = await waitFor(ofQueue('worker_status'), { what: 'worker_status' });
    expect(status.value).toBe(1);
    expect(status.labels.bullmq_worker_name).toBe(QUEUE);
    const consumed = await waitFor(ofQueue('messaging_client_consumed_messages_total'), {
      what: 'the consumed counter',
    });
    expect(consumed.value).toBe(2);
    expect(consumed.labels).toMatchObject({ bullmq_job_name: 'charge', bullmq_worker_name: QUEUE });
    expect(app.stderr).toBe('');
  }, 120_000);
});
