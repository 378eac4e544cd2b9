// Demo worker (ESM). It charges orders, failing some attempts so retries and
// failures show up in traces and metrics. No jobwatch code: it is started with
// `node --import jobwatch/register`.
import { Worker } from 'bullmq';

const failRate = Number(process.env.FAIL_RATE ?? 0.3);

const worker = new Worker(
  'orders',
  async (job) => {
    await new Promise((resolve) => setTimeout(resolve, 20 + Math.random() * 80));
    if (Math.random() < failRate) throw new Error(`card declined for ${job.data.sku}`);
    return { charged: job.data.quantity * 10 };
  },
  { connection: { url: process.env.REDIS_URL }, concurrency: 5 },
);

worker.on('error', (err) => console.error('worker: redis error:', err.message));
worker.on('ready', () => console.log('worker: processing queue "orders"'));

process.on('SIGTERM', async () => {
  await worker.close();
  process.exit(0);
});
