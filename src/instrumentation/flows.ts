// FlowProducer.add / addBulk: a flow is a batch of jobs in one or more
// queues. It gets one `send` span (named after the root's queue when all
// roots share it) and one `create <queue>` span per job, parents and children
// alike; each job carries its own `create` span's context, so its `process`
// spans hang under it. bullmq.job.parent_id links a child's span to its parent job.

import { type Attributes, type Context, context, type Span, trace } from '@opentelemetry/api';
import { operationAttributes, spanName } from './attributes.js';
import { type Host, hasNativeTelemetry, internalContext } from './host.js';
import { aroundSend, jobAttributes, type Send, SentCounts, startSpan } from './producer.js';
import { withSpanContext } from './propagation.js';
import {
  BULLMQ_JOB_PARENT_ID,
  MESSAGING_BATCH_MESSAGE_COUNT,
  OP_CREATE,
  OP_SEND,
} from './semconv.js';
import { endSent } from './spans.js';

interface FlowNode {
  name: string;
  queueName: string;
  opts?: { parent?: { id?: unknown }; [key: string]: unknown };
  children?: FlowNode[];
  [key: string]: unknown;
}

interface JobNode {
  job?: { id?: string };
  children?: JobNode[];
}

export interface FlowProducerInstance {
  opts?: { telemetry?: unknown; [key: string]: unknown };
  telemetry?: unknown;
}

interface QueueSpans {
  sendName: string;
  createName: string;
  send: Attributes;
  create: Attributes;
}

const STATE = Symbol('jobwatch.flow');

/** Per FlowProducer: whether it traces natively, and span names/attributes per queue it has sent to. */
interface FlowState {
  native: boolean;
  queues: Map<string, QueueSpans>;
}

function flowState(producer: FlowProducerInstance): FlowState {
  const known = (producer as { [STATE]?: FlowState })[STATE];
  if (known) return known;
  const state: FlowState = {
    native: hasNativeTelemetry(producer) || producer.telemetry != null,
    queues: new Map(),
  };
  (producer as { [STATE]?: FlowState })[STATE] = state;
  return state;
}

/**
 * The first flow into a queue tells the observers that this process uses it.
 * The flow producer is not bound to one queue, so they get a view of it
 * that names the queue (everything else, e.g. its connection, is the producer's).
 */
function queueSpans(host: Host, producer: FlowProducerInstance, state: FlowState, queue: string) {
  let spans = state.queues.get(queue);
  if (spans === undefined) {
    spans = {
      sendName: spanName(OP_SEND, queue),
      createName: spanName(OP_CREATE, queue),
      send: operationAttributes(OP_SEND, queue, undefined),
      create: operationAttributes(OP_CREATE, queue, undefined),
    };
    state.queues.set(queue, spans);
    host.observers.queueUsed(Object.create(producer, { name: { value: queue } }), 'flow');
  }
  return spans;
}

class FlowBatch {
  readonly creates: Span[] = [];
  readonly counts = new SentCounts();

  constructor(
    private readonly host: Host,
    private readonly producer: FlowProducerInstance,
    private readonly state: FlowState,
  ) {}

  /** A copy of `node` and its children, each with its own `create` span's context in its options. */
  copy(node: FlowNode, parent: Context): FlowNode {
    if (node === null || typeof node !== 'object') return node;
    const queue = String(node.queueName);
    this.counts.add(queue, node.name);
    const spans = queueSpans(this.host, this.producer, this.state, queue);
    if (this.state.native) {
      // BullMQ traces this producer itself: only count the jobs
      if (Array.isArray(node.children)) for (const child of node.children) this.copy(child, parent);
      return node;
    }
    const create = startSpan(
      this.host,
      spans.createName,
      jobAttributes(spans.create, node.name, node.opts),
      parent,
      node.data,
    );
    this.creates.push(create);
    const copy: FlowNode = { ...node, opts: withSpanContext(node.opts, parent, create) };
    if (Array.isArray(node.children))
      copy.children = node.children.map((c) => this.copy(c, parent));
    return copy;
  }

  /** Ends the `create` spans in the order `copy` started them, with the ids BullMQ gave the jobs. */
  end(node: FlowNode, added: JobNode | undefined, parentId: unknown, index: number): number {
    if (node === null || typeof node !== 'object') return index;
    const span = this.creates[index];
    if (span === undefined) return index;
    const id = added?.job?.id;
    const parent = parentId ?? node.opts?.parent?.id;
    if (parent !== undefined && parent !== null)
      span.setAttribute(BULLMQ_JOB_PARENT_ID, String(parent));
    endSent(span, added?.job);
    let next = index + 1;
    const children = Array.isArray(node.children) ? node.children : [];
    children.forEach((child, i) => {
      next = this.end(child, added?.children?.[i], id, next);
    });
    return next;
  }

  report(): void {
    this.counts.report(this.host);
  }
}

function startFlows(host: Host, producer: FlowProducerInstance, flows: FlowNode[]) {
  const state = flowState(producer);
  const batch = new FlowBatch(host, producer, state);
  const active = context.active();
  if (state.native) {
    for (const flow of flows) batch.copy(flow, active);
    return { batch, send: { span: undefined, runContext: undefined, creates: [] } as Send, flows };
  }
  const queues = new Set(flows.map((f) => f?.queueName));
  const only = queues.size === 1 ? String([...queues][0]) : undefined;
  const spans = only === undefined ? undefined : queueSpans(host, producer, state, only);
  const span = startSpan(
    host,
    spans?.sendName ?? OP_SEND,
    spans?.send ?? operationAttributes(OP_SEND, undefined, undefined),
    active,
  );
  const ctx = trace.setSpan(active, span);
  const copies = flows.map((flow) => batch.copy(flow, ctx));
  span.setAttribute(MESSAGING_BATCH_MESSAGE_COUNT, batch.creates.length);
  const send: Send = { span, runContext: internalContext(host, ctx), creates: batch.creates };
  return { batch, send, flows: copies };
}

function endFlows(batch: FlowBatch, send: Send, flows: FlowNode[], added: JobNode[]): void {
  let index = 0;
  flows.forEach((flow, i) => {
    index = batch.end(flow, added[i], undefined, index);
  });
  for (const span of batch.creates.slice(index)) span.end();
  send.span?.end();
  batch.report();
}

export function wrapFlowAdd(host: Host) {
  return (original: (...args: unknown[]) => Promise<unknown>) =>
    function add(this: FlowProducerInstance, flow: FlowNode, opts?: unknown, ...rest: unknown[]) {
      let batch: FlowBatch | undefined;
      return aroundSend(
        host,
        'flow.add',
        this,
        original,
        [flow, opts, ...rest],
        () => {
          const started = startFlows(host, this, [flow]);
          batch = started.batch;
          return [started.send, [started.flows[0], opts, ...rest]];
        },
        (send, tree) => batch && endFlows(batch, send, [flow], [tree as JobNode]),
      );
    };
}

export function wrapFlowAddBulk(host: Host) {
  return (original: (...args: unknown[]) => Promise<unknown>) =>
    function addBulk(this: FlowProducerInstance, flows: FlowNode[], ...rest: unknown[]) {
      if (!Array.isArray(flows)) return original.call(this, flows, ...rest);
      let batch: FlowBatch | undefined;
      return aroundSend(
        host,
        'flow.addBulk',
        this,
        original,
        [flows, ...rest],
        () => {
          const started = startFlows(host, this, flows);
          batch = started.batch;
          return [started.send, [started.flows, ...rest]];
        },
        (send, trees) => batch && endFlows(batch, send, flows, Array.isArray(trees) ? trees : []),
      );
    };
}
