// The README's first command: the demo starts its own Redis and OTLP receiver,
// the preloaded API and worker, sends orders, and prints the trace of a
// request and the worker's metrics.
import { expect, it } from 'vitest';
import { spawnNode } from '../helpers/node-process.js';

it('runs the demo: one trace from the API request to the job, and the worker reported up', async () => {
  const demo = spawnNode(['examples/demo.mjs', '--once'], {
    REDIS_URL: undefined,
    OTEL_EXPORTER_OTLP_ENDPOINT: undefined,
  });
  const exit = await demo.exited;
  expect(exit, demo.stderr).toEqual({ code: 0, signal: null });
  expect(demo.stdout).toMatch(
    /demo: trace [0-9a-f]{32} \(request POST \/orders → job \d+\):\n {2}└ POST {2}\[demo-api\]\n {4}└ send orders {2}\[demo-api\]\n {6}└ process orders {2}\[demo-worker\]/,
  );
  expect(demo.stdout).toMatch(
    /worker_status\{bullmq_worker_name="orders",messaging_destination_name="orders"[^}]*\} 1/,
  );
}, 120_000);
