// Demo HTTP API (CommonJS). It enqueues an order job per POST /orders and has
// no jobwatch code: it is started with `node --require jobwatch/register`.
const http = require('node:http');
const { Queue } = require('bullmq');

const queue = new Queue('orders', { connection: { url: process.env.REDIS_URL } });
queue.on('error', (err) => console.error('api: redis error:', err.message));
const port = Number(process.env.PORT ?? 3000);

const server = http.createServer(async (req, res) => {
  if (req.method === 'GET' && req.url === '/healthz') {
    res.writeHead(200).end('ok');
    return;
  }
  if (req.method === 'POST' && req.url === '/orders') {
    const order = {
      sku: `sku-${Math.floor(Math.random() * 100)}`,
      quantity: 1 + Math.floor(Math.random() * 3),
    };
    const job = await queue.add('charge', order, {
      attempts: 3,
      backoff: { type: 'fixed', delay: 200 },
    });
    res
      .writeHead(202, { 'content-type': 'application/json' })
      .end(JSON.stringify({ jobId: job.id }));
    return;
  }
  res.writeHead(404).end();
});

server.listen(port, process.env.HOST ?? '127.0.0.1', () => {
  console.log(`api: listening on http://${process.env.HOST ?? '127.0.0.1'}:${port}`);
});

process.on('SIGTERM', async () => {
  server.close();
  await queue.close();
  process.exit(0);
});
