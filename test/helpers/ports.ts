import { createServer } from 'node:net';

// Below Linux's ephemeral range (32768-60999 by default), from which the OS
// picks both listen(0) ports and the local ports of outgoing connections: a
// port found free there could be taken by any of the tests' many Redis or
// HTTP clients before the process it was found for binds it. (A Redis
// Cluster node's bus, at port + 10000, stays below it too.)
const PORTS_FROM = 12_000;
const PORTS_TO = 22_000;

/** A TCP port that was free a moment ago on 127.0.0.1, outside the range the OS hands out by itself. */
export async function freePort(): Promise<number> {
  for (let tries = 0; tries < 50; tries++) {
    const port = PORTS_FROM + Math.floor(Math.random() * (PORTS_TO - PORTS_FROM));
    if (await canListen(port)) return port;
  }
  return listenOn(0);
}

export function canListen(port: number): Promise<boolean> {
  return listenOn(port).then(
    () => true,
    () => false,
  );
}

/** Listens on `port` (0: any) of 127.0.0.1, closes again, and resolves with the port it had. */
function listenOn(port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.on('error', reject);
    server.listen(port, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => {
        if (address && typeof address === 'object') resolve(address.port);
        else reject(new Error('no port'));
      });
    });
  });
}

/** Thrown by a waitFor check to stop waiting at once: the process it waits for has exited. */
export class Exited extends Error {}

/**
 * Runs `attempt` again, up to three times in all, while it fails with Exited:
 * a port freePort found free can still be bound by another test file's
 * process before ours binds it, and then our server exits at start. Each
 * attempt takes fresh ports and cleans up after itself when it fails.
 */
export async function onFreshPorts<T>(attempt: () => Promise<T>): Promise<T> {
  for (let tries = 1; ; tries++) {
    try {
      return await attempt();
    } catch (err) {
      if (!(err instanceof Exited) || tries === 3) throw err;
    }
  }
}

/** Runs `boot` on `server`; if it fails, closes the server first, so a failed start leaves nothing running. */
export async function booted<S extends { close(): unknown }>(
  server: S,
  boot: (server: S) => Promise<void>,
): Promise<S> {
  try {
    await boot(server);
  } catch (err) {
    await server.close();
    throw err;
  }
  return server;
}

/** Polls `check` until it returns a truthy value or `timeoutMs` passes (or `check` throws Exited). */
export async function waitFor<T>(
  check: () => T | Promise<T>,
  { timeoutMs = 30_000, intervalMs = 50, what = 'condition' } = {},
): Promise<NonNullable<T>> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  while (Date.now() < deadline) {
    try {
      const value = await check();
      if (value) return value as NonNullable<T>;
    } catch (err) {
      if (err instanceof Exited) throw err;
      lastError = err;
    }
    await new Promise((r) => setTimeout(r, intervalMs));
  }
  throw new Error(
    `timed out after ${timeoutMs} ms waiting for ${what}${lastError ? `: ${lastError}` : ''}`,
  );
}
