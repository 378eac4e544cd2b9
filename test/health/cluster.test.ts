// Worker health on a real Redis Cluster (three masters started here), with
// both of BullMQ's cluster recipes: a hash-tagged prefix (`{bull}`), and the
// default prefix with hash-tagged queue names (`{orders}`). The registry keys
// of a prefix share one slot whatever the queue names, so beats never fail
// with CROSSSLOT; BullMQ's cluster connections are used as they are; the CLI
// and the monitor take the cluster's seed nodes. An ACL user that may not run
// jobwatch's commands is refused on the cluster as on one Redis: jobs run, one
// line says what to grant, a counter grows. Needs `npm run build`.
import { Queue } from 'bullmq';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { killAll, spawnNode } from '../helpers/node-process.js';
import { freePort, waitFor } from '../helpers/ports.js';
import { RedisCluster } from '../helpers/redis-cluster.js';
import { scrape } from '../metrics/scrape.js';
import { aclRefusals } from './acl-refusals.js';

const INTERVAL = 400;
let cluster: RedisCluster;

beforeAll(async () => {
  cluster = await RedisCluster.start();
}, 60_000);
afterAll(async () => {
  await killAll();
  await cluster?.close();
});

async function app(env: Record<string, string>, urls = cluster.urls) {
  const port = await freePort();
  const proc = spawnNode(
    ['--require', 'jobwatch/register', './test/health/fixtures/cluster-app.cjs'],
    {
      CLUSTER: urls,
      OTEL_TRACES_EXPORTER: 'none',
      OTEL_EXPORTER_PROMETHEUS_PORT: String(port),
      JOBWATCH_HEARTBEAT_INTERVAL_MS: String(INTERVAL),
      ...env,
    },
  );
  await waitFor(() => proc.stdout.includes('ready') || !proc.running, {
    what: 'cluster app ready',
  });
  expect(proc.running, proc.stderr).toBe(true);
  return { proc, metrics: `http://127.0.0.1:${port}/metrics` };
}

async function sample(metrics: string, name: string, labels: Record<string, string>) {
  const { samples } = await scrape(metrics);
  return samples.find(
    (s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v),
  )?.value;
}

async function cli(args: string[]) {
  const proc = spawnNode(['dist/cli/main.js', ...args], { JOBWATCH_REDIS_URL: '' });
  const { code } = await proc.exited;
  return { code, stdout: proc.stdout, stderr: proc.stderr };
}

describe.each([
  ['a {bull} prefix', '{bull}', 'orders'],
  ['hash-tagged queue names', 'bull', '{orders}'],
])('Redis Cluster with %s', (_, prefix, queue) => {
  it('beats land (no CROSSSLOT), a SIGKILL is reported 0, and the CLI and monitor read the cluster', async () => {
    const view = await app({ PREFIX: prefix, QUEUE: queue });
    const worker = await app({ PREFIX: prefix, WORKERS: queue });
    const name = { bullmq_worker_name: queue };
    const monitorPort = await freePort();
    const monitor = spawnNode(
      [
        'dist/cli/main.js',
        'monitor',
        '--redis',
        cluster.urls,
        '--prefix',
        prefix,
        '--port',
        String(monitorPort),
      ],
      { JOBWATCH_HEARTBEAT_INTERVAL_MS: String(INTERVAL), JOBWATCH_REDIS_URL: '' },
    );
    const monitorMetrics = `http://127.0.0.1:${monitorPort}/metrics`;
    await waitFor(async () => (await sample(monitorMetrics, 'worker_status', name)) === 1, {
      what: 'the monitor sees the worker',
    });
    expect(await sample(worker.metrics, 'worker_status', name)).toBe(1);
    expect(
      await sample(worker.metrics, 'bullmq_worker_heartbeat_errors_total', { reason: 'crossslot' }),
    ).toBe(0);
    const check = await cli([
      'check',
      '--redis',
      cluster.urls,
      '--prefix',
      prefix,
      '--worker',
      queue,
    ]);
    expect(check.code, check.stdout + check.stderr).toBe(0);
    // One seed and --cluster: the rest of the cluster is found from it.
    const status = await cli([
      'status',
      '--redis',
      `redis://127.0.0.1:${cluster.ports[0]}`,
      '--cluster',
      '--prefix',
      prefix,
    ]);
    expect(status.stdout).toMatch(
      new RegExp(`^${queue.replace(/[{}]/g, '\\$&')}\\s+.*\\s${worker.proc.pid}\\b`, 'm'),
    );
    worker.proc.child.kill('SIGKILL');
    await waitFor(async () => (await sample(monitorMetrics, 'worker_status', name)) === 0, {
      timeoutMs: 6 * INTERVAL + 5000,
      what: 'the monitor reports 0',
    });
    expect(
      await sample(monitorMetrics, 'bullmq_worker_instances', {
        ...name,
        bullmq_worker_state: 'dead',
      }),
    ).toBe(1);
    const dead = await cli([
      'check',
      '--redis',
      cluster.urls,
      '--prefix',
      prefix,
      '--worker',
      queue,
    ]);
    expect(dead.code).toBe(1);
    expect(JSON.parse(dead.stdout).workers[queue].state).toBe('dead');
    // The monitor holds the lease: the app process reports only itself (it has no worker).
    expect(await sample(view.metrics, 'worker_status', name)).toBeUndefined();
    await monitor.stop('SIGKILL');
    await view.proc.stop('SIGKILL');
  }, 90_000);
});

describe('an ACL user on the Redis Cluster', () => {
  it.each(aclRefusals((queue) => `{bull}:{${queue}}:*`))(
    '%s: every job runs, one line says what to grant, refusals counted',
    async (_, queue, rules, says) => {
      const urls = cluster.aclUser(`user-${queue}`, rules);
      const worker = await app({ PREFIX: '{bull}', WORKERS: `{${queue}}` }, urls);
      const client = cluster.client();
      const producer = new Queue(`{${queue}}`, { connection: client, prefix: '{bull}' });
      try {
        await producer.addBulk(Array.from({ length: 5 }, (_, i) => ({ name: 'n', data: { i } })));
        await waitFor(() => (worker.proc.stdout.match(/^processed /gm) ?? []).length === 5, {
          what: 'the 5 jobs processed',
        });
        await waitFor(
          async () =>
            ((await sample(worker.metrics, 'bullmq_worker_heartbeat_errors_total', {
              reason: 'noperm',
            })) ?? 0) >= 2,
          { what: 'refused beats counted' },
        );
      } finally {
        await producer.close();
        client.disconnect();
      }
      const lines = worker.proc.stderr.split('\n').filter((l) => /refused by Redis/.test(l));
      expect(lines, worker.proc.stderr).toHaveLength(1);
      expect(lines[0]).toMatch(/\(noperm\)/);
      expect(lines[0]).toMatch(says);
      expect(worker.proc.stderr).not.toMatch(/bullmq error/);
      await worker.proc.stop('SIGKILL');
    },
    60_000,
  );
});
