// The consumer, as a NestJS app writes it: a @Processor class extending WorkerHost.
const { Processor, WorkerHost } = require('@nestjs/bullmq');
const { QUEUE } = require('./queue.cjs');

class OrdersProcessor extends WorkerHost {
  async process(job) {
    console.log(`processed ${job.id}`);
    return { charged: job.data.amount };
  }
}

// `@Processor(QUEUE) class OrdersProcessor …` without a build step
module.exports = { OrdersProcessor: Reflect.decorate([Processor(QUEUE)], OrdersProcessor) };
