const { Module } = require('@nestjs/common');
const { BullModule } = require('@nestjs/bullmq');
const { OrdersProcessor } = require('./orders.processor.cjs');
const { OrdersProducer } = require('./orders.producer.cjs');
const { QUEUE } = require('./queue.cjs');

class AppModule {}

module.exports = {
  AppModule: Reflect.decorate(
    [
      Module({
        imports: [
          BullModule.forRoot({ connection: { url: process.env.REDIS_URL } }),
          BullModule.registerQueue({ name: QUEUE }),
        ],
        providers: [OrdersProcessor, OrdersProducer],
      }),
    ],
    AppModule,
  ),
};
