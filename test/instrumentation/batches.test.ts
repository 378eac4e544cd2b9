// Bulk adds, flows and delayed jobs: each job gets its own `create` span
// under the batch's `send` span, and its `process` span hangs under it.
import type { ReadableSpan } from '@opentelemetry/sdk-trace';
import { afterAll, beforeAll, describe, expect, it, onTestFinished } from 'vitest';
import { type Harness, isChildOf, named, startHarness } from './harness.js';

let h: Harness;
const sent: [string, string, number][] = [];
beforeAll(async () => {
  h = await startHarness();
  h.observe({ jobsSent: (queue, name, count) => sent.push([queue, name, count]) });
});
afterAll(() => h?.stop());

const byMessageId = (spans: ReadableSpan[], id: string | undefined) =>
  spans.find((s) => s.attributes['messaging.message.id'] === id);

function worker(queue: string, processor = async () => 'ok') {
  return h.track(new h.bullmq.Worker(queue, processor, { connection: h.connection }));
}

describe('Queue.addBulk', () => {
  it('with bulkCreateSpans on, makes one send span with the count, a create span per job, and process spans under those', async () => {
    h.instrumentation.setConfig({ bulkCreateSpans: true });
    onTestFinished(() => h.instrumentation.setConfig({}));
    const name = h.queueName('bulk');
    const queue = h.track(new h.bullmq.Queue(name, { connection: h.connection }));
    const input = [
      { name: 'a', data: { n: 1 } },
      { name: 'b', data: { n: 2 }, opts: { priority: 3 } },
      { name: 'a', data: { n: 3 } },
    ];
    const snapshot = structuredClone(input);
    const jobs = await queue.addBulk(input);
    expect(input).toEqual(snapshot); // the caller's objects are not touched
    worker(name);

    const processes = await h.waitForSpans(named(`process ${name}`), 3, 'process spans');
    const [send] = h.spans().filter(named(`send ${name}`));
    const creates = h.spans().filter(named(`create ${name}`));
    expect(send!.attributes['messaging.batch.message_count']).toBe(3);
    expect(creates).toHaveLength(3);
    for (const job of jobs) {
      const create = byMessageId(creates, job.id)!;
      expect(isChildOf(create, send!)).toBe(true);
      expect(create.attributes['bullmq.job.name']).toBe(job.name);
      expect(isChildOf(byMessageId(processes, job.id)!, create)).toBe(true);
    }
    expect(sent).toContainEqual([name, 'a', 2]);
    expect(sent).toContainEqual([name, 'b', 1]);
  });

  it('by default (bulkCreateSpans off), makes the send span alone and processes every job under it', async () => {
    h.instrumentation.setConfig({});
    try {
      const name = h.queueName('bulk-lean');
      const queue = h.track(new h.bullmq.Queue(name, { connection: h.connection }));
      const input = [
        { name: 'a', data: { n: 1 } },
        { name: 'b', data: { n: 2 }, opts: { priority: 3 } },
      ];
      const snapshot = structuredClone(input);
      const jobs = await queue.addBulk(input);
      expect(input).toEqual(snapshot);
      worker(name);

      const processes = await h.waitForSpans(named(`process ${name}`), 2, 'process spans');
      const [send] = h.spans().filter(named(`send ${name}`));
      expect(send!.attributes['messaging.batch.message_count']).toBe(2);
      expect(h.spans().filter(named(`create ${name}`))).toEqual([]);
      for (const job of jobs) expect(isChildOf(byMessageId(processes, job.id)!, send!)).toBe(true);
      expect(sent).toContainEqual([name, 'a', 1]);
      expect(sent).toContainEqual([name, 'b', 1]);
    } finally {
      h.instrumentation.setConfig({});
    }
  });
});

describe('FlowProducer', () => {
  it('traces a flow: create spans for parent and children, each processed under its own', async () => {
    const parentQueue = h.queueName('flow-parent');
    const childQueue = h.queueName('flow-child');
    const flows = h.track(new h.bullmq.FlowProducer({ connection: h.connection }));
    const tree = await flows.add({
      name: 'ship',
      queueName: parentQueue,
      data: {},
      children: [
        { name: 'pick', queueName: childQueue, data: {} },
        { name: 'pack', queueName: childQueue, data: {} },
      ],
    });
    worker(childQueue);
    worker(parentQueue);

    const [parentProcess] = await h.waitForSpans(named(`process ${parentQueue}`));
    const childProcesses = await h.waitForSpans(named(`process ${childQueue}`), 2);
    const [send] = h.spans().filter(named(`send ${parentQueue}`));
    expect(send!.attributes['messaging.batch.message_count']).toBe(3);
    const parentCreate = byMessageId(
      h.spans().filter(named(`create ${parentQueue}`)),
      tree.job.id,
    )!;
    expect(isChildOf(parentCreate, send!)).toBe(true);
    expect(isChildOf(parentProcess!, parentCreate)).toBe(true);
    const childCreates = h.spans().filter(named(`create ${childQueue}`));
    for (const child of tree.children!) {
      const create = byMessageId(childCreates, child.job.id)!;
      expect(create.attributes['bullmq.job.parent_id']).toBe(tree.job.id);
      const processSpan = byMessageId(childProcesses, child.job.id)!;
      expect(isChildOf(processSpan, create)).toBe(true);
      expect(processSpan.attributes['bullmq.job.parent_id']).toBe(tree.job.id);
    }
    expect(sent).toContainEqual([childQueue, 'pick', 1]);
    expect(sent).toContainEqual([parentQueue, 'ship', 1]);
  });

  it('traces addBulk of flows into several queues under one send span', async () => {
    const q1 = h.queueName('fb1');
    const q2 = h.queueName('fb2');
    const flows = h.track(new h.bullmq.FlowProducer({ connection: h.connection }));
    const trees = await flows.addBulk([
      { name: 'x', queueName: q1, data: 1 },
      { name: 'y', queueName: q2, data: 2 },
    ]);
    worker(q1);
    worker(q2);
    const [p1] = await h.waitForSpans(named(`process ${q1}`));
    const [p2] = await h.waitForSpans(named(`process ${q2}`));
    const send = h
      .spans()
      .find((s) => s.name === 'send' && s.attributes['messaging.batch.message_count'] === 2)!;
    expect(send.attributes['messaging.destination.name']).toBeUndefined();
    const c1 = byMessageId(h.spans().filter(named(`create ${q1}`)), trees[0]!.job.id)!;
    const c2 = byMessageId(h.spans().filter(named(`create ${q2}`)), trees[1]!.job.id)!;
    expect(isChildOf(c1, send)).toBe(true);
    expect(isChildOf(c2, send)).toBe(true);
    expect(isChildOf(p1!, c1)).toBe(true);
    expect(isChildOf(p2!, c2)).toBe(true);
  });
});

describe('delayed jobs', () => {
  it('processes a delayed job in the same trace, with the delay on both spans', async () => {
    const name = h.queueName('delayed');
    const queue = h.track(new h.bullmq.Queue(name, { connection: h.connection }));
    worker(name);
    const job = await queue.add('later', {}, { delay: 300 });
    const [processSpan] = await h.waitForSpans(named(`process ${name}`));
    const [send] = h.spans().filter(named(`send ${name}`));
    expect(isChildOf(processSpan!, send!)).toBe(true);
    expect(send!.attributes['bullmq.job.delay']).toBe(300);
    expect(processSpan!.attributes['bullmq.job.delay']).toBe(300);
    expect(processSpan!.attributes['messaging.message.id']).toBe(job.id);
    expect(job.processedOn ?? (await queue.getJob(job.id!))!.processedOn!).toBeGreaterThanOrEqual(
      job.timestamp + 300,
    );
  });
});
