// Bounded labels: job, queue, worker and error names that an app builds from
// data (or just very long ones) never make /metrics grow with them. Every
// label value stays at most 128 characters, and long names that share a
// prefix still get series of their own.
import { randomUUID } from 'node:crypto';
import { Queue } from 'bullmq';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MAX_LABEL_LENGTH } from '../../src/metrics/label-values.js';
import { BULLMQ_PATH } from '../helpers/bullmq-majors.js';
import { killAll, spawnNode } from '../helpers/node-process.js';
import { freePort, waitFor } from '../helpers/ports.js';
import { RedisServer } from '../helpers/redis.js';
import { find, scrape } from './scrape.js';

let redis: RedisServer;
beforeAll(async () => {
  redis = await RedisServer.start();
});
afterAll(async () => {
  await killAll();
  await redis.close();
});

describe('label values', () => {
  it('are capped at 128 characters, and distinct long names stay distinct', async () => {
    const queueName = `q-${randomUUID()}-${'q'.repeat(3000)}`;
    const prefix = 'job-'.repeat(900); // 3,600 characters shared by every name
    const names = [...Array.from({ length: 100 }, (_, i) => `${prefix}${i}`), 'n'.repeat(20_000)];
    const queue = new Queue(queueName, { connection: redis.connection });
    await queue.addBulk(names.map((name) => ({ name, data: {} })));
    await queue.add('fails', { failWith: `E${'rror'.repeat(1000)}` });
    await queue.close();

    const port = await freePort();
    spawnNode(['--require', 'jobwatch/register', 'test/metrics/fixtures/app.cjs'], {
      BULLMQ: BULLMQ_PATH,
      QUEUE: queueName,
      WORKER_NAME: `w-${'w'.repeat(5000)}`,
      REDIS_URL: redis.url,
      OTEL_TRACES_EXPORTER: 'none',
      OTEL_EXPORTER_PROMETHEUS_PORT: String(port),
      JOBWATCH_COLLECT_CACHE_MS: '0',
    });
    const url = `http://127.0.0.1:${port}/metrics`;
    const e = await waitFor(
      async () => {
        const s = await scrape(url);
        const consumed = find(s, 'messaging_client_consumed_messages_total');
        return consumed.reduce((n, c) => n + c.value, 0) === names.length + 1 ? s : undefined;
      },
      { what: 'every job processed', timeoutMs: 30_000 },
    );
    // target_info holds the SDK's resource (process command line, host), not jobwatch's labels
    for (const sample of e.samples.filter((s) => s.name !== 'target_info')) {
      for (const [label, v] of Object.entries(sample.labels)) {
        expect(v.length, `${sample.name} ${label}`).toBeLessThanOrEqual(MAX_LABEL_LENGTH);
      }
    }
    const jobNames = new Set(
      find(e, 'messaging_client_consumed_messages_total').map((s) => s.labels.bullmq_job_name),
    );
    expect(jobNames.size).toBe(names.length + 1);
    const failed = find(e, 'bullmq_job_failures_total');
    expect(failed).toHaveLength(1);
    expect(failed[0]!.labels.error_type!.startsWith('Errorrror')).toBe(true);
    expect(find(e, 'bullmq_queue_jobs').length).toBeGreaterThan(0);
  });
});
