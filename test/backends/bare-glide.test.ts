// A raw Valkey GLIDE client passed to BullMQ 6 as is is taken for connection
// options (BullMQ then connects to 127.0.0.1:6379, silently): jobwatch says so
// in one line. The detection, on real clients of every kind (no BullMQ object
// is made from the bare client here: it would reach the machine's own Redis).
import { GlideClient } from '@valkey/valkey-glide';
import { createValkeyGlideClient } from 'bullmq';
import { createClient } from 'redis';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { isBareGlideClient } from '../../src/backends/redis/client.js';
import { BULLMQ_MAJOR } from '../helpers/bullmq-majors.js';
import { RedisServer } from '../helpers/redis.js';

let redis: RedisServer;
beforeAll(async () => {
  redis = await RedisServer.start();
});
afterAll(() => redis.close());

it.runIf(BULLMQ_MAJOR >= 6)(
  'tells a bare GLIDE client from a wrapped one and from other clients',
  async () => {
    const glide = await GlideClient.createClient({
      addresses: [{ host: '127.0.0.1', port: redis.port }],
    });
    const wrapped = createValkeyGlideClient(glide);
    const ioredis = redis.client();
    const nodeRedis = createClient({ url: redis.url });
    try {
      expect(isBareGlideClient(glide)).toBe(true);
      expect(isBareGlideClient(wrapped)).toBe(false);
      expect(isBareGlideClient(ioredis)).toBe(false);
      expect(isBareGlideClient(nodeRedis)).toBe(false);
      expect(isBareGlideClient({ host: '127.0.0.1', port: 6379 })).toBe(false); // plain options
    } finally {
      glide.close();
      ioredis.disconnect();
    }
  },
);
