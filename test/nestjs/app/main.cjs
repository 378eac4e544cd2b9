// A NestJS app with an @nestjs/bullmq queue and processor, and no jobwatch
// code: it is started with `node --require jobwatch/register`. Written in
// plain CommonJS, decorators applied with Reflect.decorate, so the test needs
// no build step. Orders ORDERS jobs once started; prints "ordered <id>".
//   QUEUE, REDIS_URL, ORDERS (default 1)
require('reflect-metadata');
const { NestFactory } = require('@nestjs/core');
const { AppModule } = require('./app.module.cjs');
const { OrdersProducer } = require('./orders.producer.cjs');

(async () => {
  const app = await NestFactory.createApplicationContext(AppModule, { logger: ['error'] });
  app.enableShutdownHooks();
  const producer = app.get(OrdersProducer);
  for (let i = 0; i < Number(process.env.ORDERS ?? 1); i++) {
    console.log(`ordered ${await producer.order(10 + i)}`);
  }
})();
