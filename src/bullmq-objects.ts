// What jobwatch reads of BullMQ's objects beyond the lifecycle contract
// (lifecycle.ts): which backend holds a Queue's or Worker's data, and which
// BullMQ version made it. BullMQ 5 objects have a Redis `client`; BullMQ 6
// objects a `getBackend()` (Redis with a client adapter, or PostgreSQL).

import type { QueueUserLike } from './lifecycle.js';

/** What a BullMQ 6 backend exposes (a Redis one has `client`, PostgreSQL `schema` and a pool). */
export interface BackendLike {
  client?: Promise<unknown>;
  version?: string;
  constructor: { name: string };
}

interface BullmqObject extends QueueUserLike {
  getBackend?: () => BackendLike;
  connection?: { packageVersion?: string };
}

/** The object's BullMQ 6 backend; undefined on BullMQ 5 (always Redis there). */
export function backendOf(user: QueueUserLike): BackendLike | undefined {
  const object = user as BullmqObject;
  return typeof object.getBackend === 'function' ? object.getBackend() : undefined;
}

/** True once the object's close() began. */
export function isClosing(user: QueueUserLike): boolean {
  return Boolean((user as { closing?: unknown }).closing);
}

const MODULE_VERSION = Symbol('jobwatch.bullmqVersion');

/** Keeps the version of the BullMQ module being patched where its objects can read it. */
export function recordModuleVersion(base: object | undefined, version: string | undefined): void {
  if (base !== undefined && version)
    Object.defineProperty(base, MODULE_VERSION, { value: version, configurable: true });
}

/** The BullMQ version that created `user` (6.x: its backend; 5.x: its connection, or before 5.25 the module's). */
export function bullmqVersion(user: QueueUserLike): string {
  const backend = backendOf(user);
  if (backend) return backend.version ?? '';
  const object = user as BullmqObject & { [MODULE_VERSION]?: string };
  return object.connection?.packageVersion || object[MODULE_VERSION] || '';
}
