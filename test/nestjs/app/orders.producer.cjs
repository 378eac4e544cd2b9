// The producer, as a NestJS app writes it: a service with the queue injected by @InjectQueue.
const { Injectable } = require('@nestjs/common');
const { InjectQueue } = require('@nestjs/bullmq');
const { QUEUE } = require('./queue.cjs');

class OrdersProducer {
  constructor(queue) {
    this.queue = queue;
  }

  async order(amount) {
    const job = await this.queue.add('charge', { amount });
    return job.id;
  }
}

// `@Injectable() class OrdersProducer { constructor(@InjectQueue(QUEUE) queue) … }` without a build step
InjectQueue(QUEUE)(OrdersProducer, undefined, 0);
module.exports = { OrdersProducer: Reflect.decorate([Injectable()], OrdersProducer) };
