// The two ways metrics reach Prometheus must give the same names, or the
// shipped alerts and dashboards silently match nothing in one topology:
//   pull: Prometheus scrapes the process's /metrics;
//   push: OTLP to the Collector, whose prometheus exporter translates names
//         with UnderscoreEscapingWithSuffixes (pinned in collector/).
// No Collector runs here, so the test receives the real OTLP push and applies
// the Collector's translation rule (tested on its own in test/metrics).
import { Queue } from 'bullmq';
import { expect, it } from 'vitest';
import { type PrometheusKind, prometheusName } from '../../src/metrics/prometheus-names.js';
import { spawnNode } from '../helpers/node-process.js';
import { freePort, waitFor } from '../helpers/ports.js';
import { type ReceivedMetric, usePreloadedSetup } from '../helpers/preloaded.js';

const setup = usePreloadedSetup();

const KIND: Record<ReceivedMetric['type'], PrometheusKind> = {
  gauge: 'gauge',
  sum: 'counter', // every jobwatch sum is a monotonic counter
  histogram: 'histogram',
};

it('gives the same Prometheus names over OTLP push as on /metrics', async () => {
  const port = await freePort();
  spawnNode(
    ['--require', 'jobwatch/register', 'test/fixtures/worker.cjs'],
    await setup.env({
      QUEUE: 'push',
      OTEL_TRACES_EXPORTER: 'none',
      OTEL_METRICS_EXPORTER: 'prometheus,otlp',
      OTEL_EXPORTER_PROMETHEUS_PORT: String(port),
    }),
  );
  const queue = new Queue('push', { connection: setup.redis.connection });
  await queue.add('work', {});
  await queue.close();

  const pulled = await waitFor(
    async () => {
      const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
      // Queue depth and worker status are read asynchronously: wait for every family.
      const all = [
        'messaging_process_duration_seconds_count',
        'messaging_client_consumed_messages_total{',
        'bullmq_queue_jobs{',
        'worker_status{',
      ];
      return all.every((name) => text.includes(name)) ? text : undefined;
    },
    { what: 'the job on /metrics' },
  );
  const pushed = await waitFor(
    () =>
      [
        'messaging.process.duration',
        'messaging.client.consumed.messages',
        'bullmq.queue.jobs',
        'worker.status',
      ].every((name) => setup.receiver.metrics.some((m) => m.name === name))
        ? setup.receiver.metrics
        : undefined,
    { what: 'the job over OTLP' },
  );

  const pulledNames = new Set(
    [...pulled.matchAll(/^# TYPE (\S+) /gm)].map((m) => m[1]!).filter((n) => n !== 'target_info'),
  );
  const pushedNames = new Set(pushed.map((m) => prometheusName(m.name, m.unit, KIND[m.type])));
  expect(pushedNames).toEqual(pulledNames);
  expect([...pulledNames]).toEqual(
    expect.arrayContaining([
      'worker_status',
      'messaging_client_consumed_messages_total',
      'messaging_process_duration_seconds',
      'bullmq_job_wait_duration_seconds',
      'bullmq_queue_jobs',
    ]),
  );
  const status = pushed.find((m) => m.name === 'worker.status')!;
  expect(status.points).toContainEqual({
    attributes: {
      'jobwatch.registry': `redis://127.0.0.1:${setup.redis.port}/0#bull`,
      'bullmq.worker.name': 'push',
      'messaging.destination.name': 'push',
    },
    value: 1,
  });
});
