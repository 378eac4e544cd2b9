// Queue depth of BullMQ 6 queues on PostgreSQL, from a preloaded app's
// /metrics: the same bullmq_queue_jobs series by state as on Redis.
import { expect, it } from 'vitest';
import { waitFor } from '../helpers/ports.js';
import { BULLMQ_SCHEMA, describeOnPostgres } from '../helpers/postgres.js';
import { processed } from '../helpers/preloaded.js';
import { find, scrape } from '../metrics/scrape.js';
import { usePostgresApps } from './setup.js';

const setup = usePostgresApps();

async function depth(url: string, queue: string): Promise<Record<string, number>> {
  const e = await scrape(url);
  const out: Record<string, number> = {};
  for (const s of find(e, 'bullmq_queue_jobs', { messaging_destination_name: queue })) {
    out[s.labels.bullmq_job_state!] = s.value;
  }
  return out;
}

describeOnPostgres('queue depth on PostgreSQL', () => {
  it('reports jobs by state as the queue fills and drains, with no warning', async () => {
    const app = await setup.app({
      ROLE: 'queue',
      QUEUE: 'depth',
      ADD_JOBS: '7',
      DELAYED_JOBS: '2',
      JOBWATCH_COLLECT_CACHE_MS: '100',
    });
    await waitFor(() => app.stdout.includes('added'), { what: 'the jobs added' });
    const before = await waitFor(
      async () => {
        const d = await depth(app.metricsUrl, 'depth');
        return d.waiting === 7 ? d : undefined;
      },
      { what: '7 waiting jobs on /metrics' },
    );
    expect(before).toEqual({
      waiting: 7,
      paused: 0,
      active: 0,
      prioritized: 0,
      delayed: 2,
      'waiting-children': 0,
      completed: 0,
      failed: 0,
    });
    // Nobody consumes yet: the job next in line ages, in seconds (0 while the queue is paused).
    const age = async () =>
      find(await scrape(app.metricsUrl), 'bullmq_queue_oldest_waiting_job_age_seconds', {
        messaging_destination_name: 'depth',
      })[0]?.value;
    await waitFor(async () => ((await age()) ?? 0) >= 1, { what: 'the oldest job aged 1 s' });
    // BullMQ 6.0 named its tables bullmq_job, bullmq_meta; 6.1 on job, meta.
    const { rows } = await setup.db.query(
      `SELECT to_regclass('"${BULLMQ_SCHEMA}".meta') IS NOT NULL AS current`,
    );
    const meta = `"${BULLMQ_SCHEMA}".${rows[0]!.current ? 'meta' : 'bullmq_meta'}`;
    await setup.db.query(
      `INSERT INTO ${meta} (queue, field, value) VALUES ('depth', 'paused', '1')`,
    );
    await waitFor(async () => (await age()) === 0, { what: 'no age while paused' });
    await setup.db.query(`DELETE FROM ${meta} WHERE queue = 'depth' AND field = 'paused'`);
    await waitFor(async () => ((await age()) ?? 0) >= 1, { what: 'the age back after resume' });

    const worker = await setup.app({ ROLE: 'worker', QUEUE: 'depth' });
    await waitFor(() => processed(worker).length === 7, { what: 'the jobs processed' });
    await waitFor(
      async () => {
        const d = await depth(app.metricsUrl, 'depth');
        return d.waiting === 0 && d.completed === 7 && d.delayed === 2;
      },
      { what: 'the drained queue on /metrics' },
    );
    expect(await age()).toBe(0);
    expect(app.stderr).not.toMatch(/queue depth|cannot read/);
  });
});
