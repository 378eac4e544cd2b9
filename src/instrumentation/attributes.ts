// Attribute sets that do not change per job are built once per Queue, Worker
// or FlowProducer and handed to every span they start; the SDK copies them.

import type { Attributes } from '@opentelemetry/api';
import {
  BULLMQ_WORKER_NAME,
  MESSAGING_CLIENT_ID,
  MESSAGING_DESTINATION_NAME,
  MESSAGING_OPERATION_NAME,
  MESSAGING_OPERATION_TYPE,
  MESSAGING_SYSTEM,
  SYSTEM_BULLMQ,
} from './semconv.js';

export function operationAttributes(
  operation: string,
  queueName: string | undefined,
  clientId: unknown,
): Attributes {
  const attributes: Attributes = {
    [MESSAGING_SYSTEM]: SYSTEM_BULLMQ,
    [MESSAGING_OPERATION_TYPE]: operation,
    [MESSAGING_OPERATION_NAME]: operation,
  };
  if (queueName) attributes[MESSAGING_DESTINATION_NAME] = queueName;
  if (typeof clientId === 'string') attributes[MESSAGING_CLIENT_ID] = clientId;
  return attributes;
}

export function processAttributes(queueName: string, workerId: unknown, workerName: string) {
  const attributes = operationAttributes('process', queueName, workerId);
  attributes[BULLMQ_WORKER_NAME] = workerName;
  return attributes;
}

/** `{operation} {queue}`, or the operation alone when a batch spans several queues. */
export function spanName(operation: string, queueName: string | undefined): string {
  return queueName ? `${operation} ${queueName}` : operation;
}

const MAX_ERROR_TYPE_LENGTH = 100;

/**
 * The class of what a processor threw, for error.type: the error's own name
 * when it set one, else its constructor's name; for non-Error throws, their
 * typeof ('string', 'undefined', 'object', …).
 */
export function errorType(err: unknown): string {
  if (!(err instanceof Error)) return typeof err;
  let type = err.name;
  if (!type || type === 'Error') {
    const ctorName = err.constructor?.name;
    type = typeof ctorName === 'string' && ctorName ? ctorName : 'Error';
  }
  return typeof type === 'string' ? type.slice(0, MAX_ERROR_TYPE_LENGTH) : 'Error';
}
