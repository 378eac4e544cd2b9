// How jobwatch reaches Redis without any configuration of its own (heartbeats,
// registry reads, queue depth): through the Redis client BullMQ already opened
// for a Worker or Queue (BullMQ 5: `client`; BullMQ 6: `getBackend().client` on the
// Redis backend), or a connection of its own from JOBWATCH_REDIS_URL.

import { moduleVersionOf } from '../instrumentation/bullmq-versions.js';
import type { QueueUserLike } from '../lifecycle.js';

/** The little jobwatch needs of a Redis client: Lua scripts and its status. */
export interface RedisScriptClient {
  defineCommand(name: string, definition: { numberOfKeys: number; lua: string }): void;
  /** BullMQ 6's client adapters run defined scripts through this. */
  runCommand?(name: string, args: unknown[]): Promise<unknown>;
  status?: string;
  options?: Record<string, unknown>;
  duplicate?(): RedisScriptClient & {
    quit(): Promise<unknown>;
    disconnect(): void;
    on(event: 'error', listener: (err: unknown) => void): unknown;
  };
}

export interface Script {
  name: string;
  keys: number;
  lua: string;
}

const defined = new WeakMap<object, Set<string>>();

/** Runs a Lua script through the client's own script cache (EVALSHA after the first call). */
export function runScript(
  client: RedisScriptClient,
  script: Script,
  args: string[],
): Promise<unknown> {
  let names = defined.get(client);
  if (!names) {
    names = new Set();
    defined.set(client, names);
  }
  if (!names.has(script.name)) {
    client.defineCommand(script.name, { numberOfKeys: script.keys, lua: script.lua });
    names.add(script.name);
  }
  if (typeof client.runCommand === 'function') return client.runCommand(script.name, args);
  const command = (client as unknown as Record<string, (...a: string[]) => Promise<unknown>>)[
    script.name
  ];
  return command!.apply(client, args);
}

/** Where a BullMQ object keeps its data: a Redis client, or another backend (e.g. PostgreSQL). */
export type BullmqStore =
  | { kind: 'redis'; client: Promise<RedisScriptClient> }
  | { kind: 'other'; backend: string };

interface BackendLike {
  client?: Promise<RedisScriptClient>;
  version?: string;
  constructor: { name: string };
}

interface BullmqObject extends QueueUserLike {
  getBackend?: () => BackendLike;
  connection?: { packageVersion?: string };
}

export function bullmqStore(user: QueueUserLike): BullmqStore {
  const object = user as BullmqObject;
  if (typeof object.getBackend === 'function') {
    const backend = object.getBackend();
    if ('client' in backend && backend.client) return { kind: 'redis', client: backend.client };
    return { kind: 'other', backend: backend.constructor.name };
  }
  return { kind: 'redis', client: object.client as Promise<RedisScriptClient> };
}

/** The BullMQ version that created `user` (6.x: its backend; 5.x: its connection, or before 5.25 the module's). */
export function bullmqVersion(user: QueueUserLike): string {
  const object = user as BullmqObject;
  if (typeof object.getBackend === 'function') return object.getBackend().version ?? '';
  return object.connection?.packageVersion || moduleVersionOf(user) || '';
}

/**
 * `host:port/db` of a client, or `cluster:` and its seed nodes for a Redis
 * Cluster client, so views on one Redis share one reader; undefined if unknown.
 */
export function serverIdentity(client: RedisScriptClient): string | undefined {
  const seeds = (client as { startupNodes?: unknown }).startupNodes;
  if (Array.isArray(seeds)) return `cluster:${seeds.map(nodeName).sort().join(',')}`;
  const o = client.options;
  if (!o) return undefined;
  if (typeof o.path === 'string') return `${o.path}/${o.db ?? 0}`;
  if (o.host === undefined && o.port === undefined) return undefined;
  return `${o.host ?? '127.0.0.1'}:${o.port ?? 6379}/${o.db ?? 0}`;
}

function nodeName(node: unknown): string {
  if (typeof node !== 'object' || node === null) return String(node);
  const { host, port } = node as { host?: string; port?: number };
  return `${host ?? '127.0.0.1'}:${port ?? 6379}`;
}

/** False once the client was closed for good (its owner closed it). */
export function isUsable(client: RedisScriptClient): boolean {
  return client.status !== 'end' && client.status !== 'close';
}

/** Settles like `work`, or rejects after `ms` (the work itself is not cancelled). */
export function withTimeout<T>(work: Promise<T>, ms: number, what: string): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${what} timed out after ${ms} ms`)), ms);
    timer.unref();
    work.then(
      (value) => {
        clearTimeout(timer);
        resolve(value);
      },
      (err) => {
        clearTimeout(timer);
        reject(err);
      },
    );
  });
}
