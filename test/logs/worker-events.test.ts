// Worker lifecycle events: the process holding the fleet view sends one log
// record per state change of an instance to the OTLP logs endpoint. A
// SIGKILLed worker's death arrives from that other process within the
// detection bound; a graceful stop is a stop, never a death. Needs `npm run build`.
import { afterAll, beforeAll, expect, it } from 'vitest';
import { startOtlpReceiver } from '../../examples/otlp-receiver.mjs';
import { MISSED_BEATS_FOR_DEAD } from '../../src/registry/liveness.js';
import { type NodeProcess, spawnNode } from '../helpers/node-process.js';
import { waitFor } from '../helpers/ports.js';
import { RedisServer } from '../helpers/redis.js';

const INTERVAL = 300;

let redis: RedisServer;
let receiver: Awaited<ReturnType<typeof startOtlpReceiver>>;
const procs: NodeProcess[] = [];

beforeAll(async () => {
  redis = await RedisServer.start();
  receiver = await startOtlpReceiver();
});
afterAll(async () => {
  await Promise.all(procs.map((p) => p.stop('SIGKILL')));
  await receiver?.close();
  await redis?.close();
});

function app(script: string, env: Record<string, string>): NodeProcess {
  const proc = spawnNode(['--require', 'jobwatch/register', script], {
    REDIS_URL: redis.url,
    OTEL_TRACES_EXPORTER: 'none',
    OTEL_METRICS_EXPORTER: 'none',
    JOBWATCH_HEARTBEAT_INTERVAL_MS: String(INTERVAL),
    ...env,
  });
  procs.push(proc);
  return proc;
}

const events = (name: string) =>
  receiver.logs.filter((l) => l.attributes['bullmq.worker.name'] === name);

it('records a start, a death (from the fleet view, within the bound) and a graceful stop', async () => {
  const view = app('./test/health/fixtures/view-app.cjs', {
    QUEUE: 'events',
    OTEL_LOGS_EXPORTER: 'otlp',
    OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url,
    OTEL_BLRP_SCHEDULE_DELAY: '100',
  });
  await waitFor(() => view.stdout.includes('ready'), { what: 'the view' });
  await new Promise((r) => setTimeout(r, 3 * INTERVAL)); // it takes the lease, and learns the registry
  const doomed = app('./test/health/fixtures/worker-app.cjs', { WORKERS: 'events:doomed' });
  const leaving = app('./test/health/fixtures/worker-app.cjs', {
    WORKERS: 'events:leaving',
    APP_SIGTERM: '1',
  });
  for (const [name, proc] of [
    ['doomed', doomed],
    ['leaving', leaving],
  ] as const) {
    const started = await waitFor(
      () => events(name).find((l) => l.eventName === 'bullmq.worker.started'),
      { what: `${name} started` },
    );
    expect(started).toMatchObject({
      severityText: 'INFO',
      attributes: {
        'bullmq.worker.state': 'running',
        'messaging.destination.name': 'events',
        'process.pid': proc.pid,
        'jobwatch.registry': `redis://127.0.0.1:${redis.port}/0#bull`,
      },
    });
  }

  doomed.child.kill('SIGKILL');
  const killedAt = Date.now();
  const dead = await waitFor(
    () => events('doomed').find((l) => l.eventName === 'bullmq.worker.dead'),
    { what: 'the death record' },
  );
  const deathMs = Date.now() - killedAt;
  console.log(
    `worker events: SIGKILL → bullmq.worker.dead record at the receiver in ${deathMs} ms`,
  );
  // 3 missed beats, one check interval and the batch delay, with slack for a busy machine.
  expect(deathMs).toBeLessThan((MISSED_BEATS_FOR_DEAD + 2) * INTERVAL + 3000);
  expect(dead).toMatchObject({
    severityText: 'ERROR',
    attributes: {
      'bullmq.worker.state': 'dead',
      'bullmq.worker.previous_state': 'running',
      'process.pid': doomed.pid,
      'host.name': expect.any(String),
      'bullmq.worker.instance.id': expect.any(String),
      'bullmq.worker.state.reason': expect.stringMatching(/^no heartbeat for/),
    },
  });
  expect(dead.resource['service.name']).toBeDefined(); // from the view process, not the dead one

  expect((await leaving.stop('SIGTERM')).code).toBe(0);
  const stopped = await waitFor(
    () => events('leaving').find((l) => l.eventName === 'bullmq.worker.stopped'),
    { what: 'the stop record' },
  );
  expect(stopped.attributes['bullmq.worker.state']).toBe('stopped');
  await new Promise((r) => setTimeout(r, (MISSED_BEATS_FOR_DEAD + 1) * INTERVAL));
  expect(events('leaving').map((l) => l.eventName)).toEqual([
    'bullmq.worker.started',
    'bullmq.worker.stopped',
  ]);
}, 60_000);
