// The pull path must name metrics exactly as the Collector does under
// UnderscoreEscapingWithSuffixes, or queries break when a user switches path.
import { describe, expect, it } from 'vitest';
import { prometheusName, prometheusUnit } from '../../src/metrics/prometheus-names.js';

describe('prometheusName (the Collector default translation)', () => {
  it.each([
    // jobwatch's own contract
    ['messaging.process.duration', 's', 'histogram', 'messaging_process_duration_seconds'],
    [
      'messaging.client.sent.messages',
      '{message}',
      'counter',
      'messaging_client_sent_messages_total',
    ],
    ['bullmq.queue.jobs', '{job}', 'gauge', 'bullmq_queue_jobs'],
    ['worker.status', '{status}', 'gauge', 'worker_status'],
    [
      'bullmq.worker.oldest_active_job.age',
      's',
      'gauge',
      'bullmq_worker_oldest_active_job_age_seconds',
    ],
    // the spec's other cases
    ['system.cpu.utilization', '1', 'gauge', 'system_cpu_utilization_ratio'],
    ['requests.count', '1', 'counter', 'requests_count_total'],
    ['process.memory.usage', 'By', 'updown', 'process_memory_usage_bytes'],
    ['network.io', 'By/s', 'gauge', 'network_io_bytes_per_second'],
    ['packets', '{packet}/s', 'counter', 'packets_per_second_total'],
    ['request.duration.seconds', 's', 'histogram', 'request_duration_seconds'],
    ['jobs.total.done', '{job}', 'counter', 'jobs_done_total'],
    ['cache.hit.ratio', '1', 'gauge', 'cache_hit_ratio'],
    ['http..server__latency', 'ms', 'histogram', 'http_server_latency_milliseconds'],
    ['queue.size', 'widgets', 'gauge', 'queue_size_widgets'],
    ['2xx.responses', '', 'counter', '_2xx_responses_total'],
  ] as const)('%s [%s, %s] → %s', (name, unit, kind, expected) => {
    expect(prometheusName(name, unit, kind)).toBe(expected);
  });
});

describe('prometheusUnit (the # UNIT line)', () => {
  it.each([
    ['s', 'seconds'],
    ['By/s', 'bytes_per_second'],
    ['{job}', ''],
    ['1', ''],
    ['%', 'percent'],
  ])('%s → %s', (unit, expected) => {
    expect(prometheusUnit(unit)).toBe(expected);
  });
});
