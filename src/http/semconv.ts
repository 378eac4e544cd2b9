// The stable HTTP semantic conventions jobwatch's HTTP spans use, as literals
// (as in src/instrumentation/semconv.ts).

export const HTTP_REQUEST_METHOD = 'http.request.method';
export const HTTP_RESPONSE_STATUS_CODE = 'http.response.status_code';
export const URL_PATH = 'url.path';
export const URL_SCHEME = 'url.scheme';
export const URL_FULL = 'url.full';
export const SERVER_ADDRESS = 'server.address';
export const SERVER_PORT = 'server.port';
export const CLIENT_ADDRESS = 'client.address';
export const NETWORK_PROTOCOL_VERSION = 'network.protocol.version';
export const USER_AGENT_ORIGINAL = 'user_agent.original';
export const ERROR_TYPE = 'error.type';

/** The methods semconv knows; any other is reported as `_OTHER` (bounded span names). */
const KNOWN_METHODS = new Set([
  'CONNECT',
  'DELETE',
  'GET',
  'HEAD',
  'OPTIONS',
  'PATCH',
  'POST',
  'PUT',
  'QUERY',
  'TRACE',
]);

export function normalizedMethod(method: string | undefined): string {
  const upper = (method ?? 'GET').toUpperCase();
  return KNOWN_METHODS.has(upper) ? upper : '_OTHER';
}

/** `host` and `port` of a Host header or origin (`example.com:8080`, `[::1]:80`). */
export function hostAndPort(
  value: string | undefined,
  defaultPort: number,
): { host: string; port: number } | undefined {
  if (!value) return undefined;
  const match = /^(\[[^\]]+\]|[^:]+)(?::(\d+))?$/.exec(value);
  if (!match) return undefined;
  return { host: match[1]!, port: match[2] ? Number(match[2]) : defaultPort };
}

/** The path of a request target without its query string (queries may carry secrets or payloads). */
export function pathOnly(target: string | undefined): string {
  const path = target ?? '/';
  const end = path.search(/[?#]/);
  return end === -1 ? path : path.slice(0, end);
}
