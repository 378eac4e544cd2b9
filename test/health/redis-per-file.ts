// A redis-server for one test file whose processes are killed, and whose data
// (the worker registry) is wiped, after every test: a dead worker of one test
// stays in the registry for the retention and would make later reports 503.
import { afterAll, afterEach, beforeAll } from 'vitest';
import { killAll } from '../helpers/node-process.js';
import { RedisServer } from '../helpers/redis.js';

export function redisPerFile(): { readonly server: RedisServer } {
  const holder = { server: undefined as unknown as RedisServer };
  beforeAll(async () => {
    holder.server = await RedisServer.start();
  });
  afterEach(async () => {
    await killAll();
    const client = holder.server.client();
    await client.flushall();
    client.disconnect();
  });
  afterAll(() => holder.server.close());
  return holder;
}
