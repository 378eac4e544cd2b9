// Traces and job metrics of preloaded BullMQ 6 apps on the PostgreSQL backend:
// the same spans, propagation and counters as on Redis, with both preload flags.
import { expect, it } from 'vitest';
import { waitFor } from '../helpers/ports.js';
import { describeOnPostgres } from '../helpers/postgres.js';
import { processed, SPAN_KIND } from '../helpers/preloaded.js';
import { find, scrape } from '../metrics/scrape.js';
import { usePostgresApps } from './setup.js';

const { PRODUCER, CONSUMER } = SPAN_KIND;
const setup = usePostgresApps();

const added = (out: string) => [...out.matchAll(/^added (\S+)$/gm)].map((m) => m[1]!);

describeOnPostgres.each(['--require', '--import'] as const)(
  'BullMQ 6 on PostgreSQL, worker preloaded with %s',
  (preload) => {
    it('puts a PostgreSQL producer and worker in one trace per job, and counts what was sent and consumed', async () => {
      const queue = `traces${preload.replace(/-/g, '_')}`;
      const worker = await setup.app(
        { ROLE: 'worker', QUEUE: queue, WORKER_NAME: 'pg-worker' },
        preload,
      );
      const producer = await setup.app({ ROLE: 'producer', QUEUE: queue, ADD_JOBS: '3' });
      expect((await producer.exited).code).toBe(0);
      const ids = added(producer.stdout);
      expect(ids).toHaveLength(3);
      await waitFor(() => processed(worker).length === 3, { what: 'the jobs' });

      for (const id of ids) {
        const spans = await waitFor(
          () => {
            const consume = setup.receiver.spans.find(
              (s) => s.kind === CONSUMER && s.attributes['messaging.message.id'] === id,
            );
            const send = setup.receiver.spans.find(
              (s) => s.kind === PRODUCER && s.attributes['messaging.message.id'] === id,
            );
            return consume && send && { consume, send };
          },
          { what: `the spans of job ${id}` },
        );
        expect(spans.send.name).toBe(`send ${queue}`);
        expect(spans.consume.name).toBe(`process ${queue}`);
        expect(spans.consume.traceId).toBe(spans.send.traceId);
        expect(spans.consume.parentSpanId).toBe(spans.send.spanId);
        expect(spans.consume.attributes).toMatchObject({
          'messaging.system': 'bullmq',
          'messaging.destination.name': queue,
          'bullmq.worker.name': 'pg-worker',
        });
      }

      const consumed = await waitFor(
        async () => {
          const e = await scrape(worker.metricsUrl);
          const samples = find(e, 'messaging_client_consumed_messages_total', {
            messaging_destination_name: queue,
          });
          return samples.reduce((n, s) => n + s.value, 0) === 3 ? samples : undefined;
        },
        { what: 'three consumed messages on /metrics' },
      );
      expect(consumed.every((s) => s.labels.error_type === undefined)).toBe(true);
    });

    it('records a failing job on PostgreSQL as an error span and a failed attempt', async () => {
      const queue = `failures${preload.replace(/-/g, '_')}`;
      const worker = await setup.app(
        { ROLE: 'worker', QUEUE: queue, FAIL: 'card declined' },
        preload,
      );
      const producer = await setup.app({ ROLE: 'producer', QUEUE: queue });
      expect((await producer.exited).code).toBe(0);
      const [id] = added(producer.stdout);
      const span = await waitFor(
        () =>
          setup.receiver.spans.find(
            (s) => s.kind === CONSUMER && s.attributes['messaging.message.id'] === id,
          ),
        { what: 'the process span' },
      );
      expect(span.status.code).toBe(2);
      expect(span.attributes['error.type']).toBe('Error');
      await waitFor(
        async () =>
          find(await scrape(worker.metricsUrl), 'messaging_client_consumed_messages_total', {
            messaging_destination_name: queue,
            error_type: 'Error',
          })[0]?.value === 1,
        { what: 'the failed attempt on /metrics' },
      );
    });
  },
);
