// The benchmark's own redis-server, on a free port, pinned to its own core.
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Redis } from 'ioredis';
import { redisServerArgs } from '../examples/redis-server-args.mjs';
import { spawnTracked } from './processes.mjs';

function freePort() {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

export { freePort };

export async function startRedis({ core }) {
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'jobwatch-bench-redis-'));
  const child = spawnTracked('redis-server', redisServerArgs(port, dir), { core, stdio: 'ignore' });
  const client = new Redis({
    port,
    host: '127.0.0.1',
    lazyConnect: true,
    maxRetriesPerRequest: 1,
    retryStrategy: () => null,
  });
  client.on('error', () => {}); // refused connects while the server starts are expected
  for (let i = 0; ; i++) {
    try {
      await client.connect();
      break;
    } catch (err) {
      client.disconnect();
      if (i > 100 || child.exitCode !== null)
        throw new Error(`redis-server on ${port} did not start: ${err}`);
      await sleep(50);
    }
  }
  return {
    port,
    /** Empties the server and its counters, so each workload starts alike. */
    async reset() {
      await client.flushall();
      await client.config('RESETSTAT');
    },
    async version() {
      return (await client.info('server')).match(/^redis_version:(\S+)/m)[1];
    },
    async stop() {
      client.disconnect();
      child.kill('SIGKILL');
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
