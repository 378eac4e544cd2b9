// The little jobwatch needs of a Redis client, whichever BullMQ reaches Redis
// through: BullMQ 5's ioredis, or BullMQ 6's client adapters (over ioredis,
// node-redis, Valkey GLIDE or Bun), which all run Lua through
// defineCommand/runCommand and share no other uniform way to send a command.
// So every command of jobwatch's is a Lua script (scripts.ts).

/** A Redis client as BullMQ hands it out (an ioredis instance or a BullMQ 6 adapter). */
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
  on?(event: 'end' | 'close', listener: () => void): unknown;
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

/** False once the client was closed for good (its owner closed it). */
export function isUsable(client: RedisScriptClient): boolean {
  return client.status !== 'end' && client.status !== 'close';
}

/**
 * `host:port/db` of a client, or `cluster:` and its seed nodes for a Redis
 * Cluster client, so views on one Redis share one reader; undefined if
 * unknown. Each client kind names them its own way: ioredis host/port/db (or
 * path), node-redis socket.host/socket.port/database, GLIDE
 * addresses/databaseId.
 */
export function serverIdentity(client: RedisScriptClient): string | undefined {
  const seeds = (client as { startupNodes?: unknown }).startupNodes;
  if (Array.isArray(seeds)) return `cluster:${seeds.map(nodeName).sort().join(',')}`;
  const o = client.options;
  if (!o) return undefined;
  const glide = o.addresses;
  if (Array.isArray(glide) && glide.length > 0) {
    const nodes = glide.map(nodeName).sort().join(',');
    return `${glide.length > 1 ? 'cluster:' : ''}${nodes}/${o.databaseId ?? 0}`;
  }
  const socket = o.socket as { host?: string; port?: number; path?: string } | undefined;
  if (socket && typeof socket === 'object') {
    const where = socket.path ?? `${hostName(socket.host)}:${socket.port ?? 6379}`;
    return `${where}/${o.database ?? 0}`;
  }
  if (typeof o.path === 'string') return `${o.path}/${o.db ?? 0}`;
  if (o.host === undefined && o.port === undefined) return undefined;
  return `${hostName(o.host as string | undefined)}:${o.port ?? 6379}/${o.db ?? 0}`;
}

/** `localhost` and an unset host are the loopback address: one server, one name. */
function hostName(host: string | undefined): string {
  return host === undefined || host === 'localhost' ? '127.0.0.1' : host;
}

function nodeName(node: unknown): string {
  if (typeof node !== 'object' || node === null) return String(node);
  const { host, port } = node as { host?: string; port?: number };
  return `${hostName(host)}:${port ?? 6379}`;
}

/**
 * A raw Valkey GLIDE client handed to BullMQ as is. BullMQ 6 does not
 * recognise one as a client: it takes it for connection options and connects
 * to 127.0.0.1:6379 instead, silently (createValkeyGlideClient wraps it).
 */
export function isBareGlideClient(connection: unknown): boolean {
  if (typeof connection !== 'object' || connection === null) return false;
  const c = connection as { customCommand?: unknown; duplicate?: unknown; runCommand?: unknown };
  return (
    typeof c.customCommand === 'function' &&
    typeof c.duplicate !== 'function' &&
    typeof c.runCommand !== 'function'
  );
}
