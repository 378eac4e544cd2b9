// HTTP spans for a process whose OpenTelemetry SDK jobwatch starts: a server
// span per incoming request, whose trace continues in the jobs it enqueues,
// and a client span per outgoing request (http.request and fetch), whose
// traceparent the called service continues.
//
// It listens to Node's diagnostics channels (Node >= 22.15 publishes all of
// them) instead of patching the http module, so CommonJS and ES module apps
// are covered alike, with no module hook. Only the server's `emit` is wrapped,
// per server, so that the app's request handler runs in its span's context.
// jobwatch's own servers (/metrics, health) are skipped (./untraced.ts).
//
// Why not @opentelemetry/instrumentation-http: it pins an exact
// @opentelemetry/core, so beside an app's SDK of another patch release it
// installs a second copy of core. jobwatch's only SDK dependency is the
// NodeSDK, which dedupes with the app's (src/otel-sdk.ts). An app that wants
// route names or HTTP metrics brings its own SDK or the auto-instrumentations,
// which jobwatch joins.
//
// Never a payload: no query string, no headers beyond the user agent.

import dc from 'node:diagnostics_channel';
import type { ClientRequest, IncomingMessage, Server, ServerResponse } from 'node:http';
import {
  type Attributes,
  type Context,
  context,
  propagation,
  ROOT_CONTEXT,
  type Span,
  SpanKind,
  SpanStatusCode,
  type TracerProvider,
  trace,
} from '@opentelemetry/api';
import type { Instrumentation, InstrumentationConfig } from '@opentelemetry/instrumentation';
import { guard } from '../log.js';
import { core } from '../otel-sdk.js';
import { VERSION } from '../version.js';
import { REQUEST_ID, requestIdOf, withRequestId } from './request-id.js';
import {
  CLIENT_ADDRESS,
  ERROR_TYPE,
  HTTP_REQUEST_METHOD,
  HTTP_RESPONSE_STATUS_CODE,
  hostAndPort,
  NETWORK_PROTOCOL_VERSION,
  normalizedMethod,
  pathOnly,
  SERVER_ADDRESS,
  SERVER_PORT,
  URL_FULL,
  URL_PATH,
  URL_SCHEME,
  USER_AGENT_ORIGINAL,
} from './semconv.js';
import { isUntraced } from './untraced.js';

const NAME = 'jobwatch-http';

/** What undici (fetch) publishes about a request: the parts used here. */
interface UndiciRequest {
  origin: string | URL;
  method: string;
  path: string;
  addHeader(name: string, value: string): unknown;
}

type Listener = (message: any) => void;

export class HttpTracing implements Instrumentation {
  /** `requestIdHeader`: an incoming header whose value travels on as baggage (request-id.ts). */
  constructor(private readonly requestIdHeader?: string) {}

  readonly instrumentationName = NAME;
  readonly instrumentationVersion = VERSION;
  private tracer = trace.getTracer(NAME, VERSION);
  private enabled = false;
  /** The context each incoming request's handler runs in. */
  private readonly serverContexts = new WeakMap<IncomingMessage, Context>();
  private readonly clientSpans = new WeakMap<object, Span>();
  private readonly wrappedServers = new WeakSet<Server>();
  private readonly listeners: [string, Listener][] = guarded({
    'http.server.request.start': (m) => this.serverRequest(m),
    'http.client.request.created': (m) => this.clientRequest(m.request),
    'http.client.response.finish': (m) => this.clientStatus(m.request, m.response?.statusCode),
    'http.client.request.error': (m) => this.clientError(m.request, m.error),
    'undici:request:create': (m) => this.fetchRequest(m.request),
    'undici:request:headers': (m) => this.clientStatus(m.request, m.response?.statusCode),
    'undici:request:trailers': (m) => this.endClient(m.request),
    'undici:request:error': (m) => this.clientError(m.request, m.error, true),
  });

  enable(): void {
    if (this.enabled) return;
    this.enabled = true;
    for (const [channel, listener] of this.listeners) dc.subscribe(channel, listener);
  }

  disable(): void {
    if (!this.enabled) return;
    this.enabled = false;
    for (const [channel, listener] of this.listeners) dc.unsubscribe(channel, listener);
  }

  setTracerProvider(provider: TracerProvider): void {
    this.tracer = provider.getTracer(NAME, VERSION);
  }

  setMeterProvider(): void {}

  setConfig(config: InstrumentationConfig): void {
    if (config.enabled === false) this.disable();
  }

  getConfig(): InstrumentationConfig {
    return { enabled: this.enabled };
  }

  private serverRequest(message: {
    request: IncomingMessage;
    response: ServerResponse;
    server: Server;
  }): void {
    const { request, response, server } = message;
    if (isUntraced(server)) return;
    this.runHandlersInContext(server);
    const extracted = propagation.extract(ROOT_CONTEXT, request.headers);
    const parent = withRequestId(extracted, request.headers, this.requestIdHeader);
    const method = normalizedMethod(request.method);
    const attributes = serverAttributes(request, method);
    const requestId = requestIdOf(parent);
    if (requestId !== undefined) attributes[REQUEST_ID] = requestId;
    const span = this.tracer.startSpan(method, { kind: SpanKind.SERVER, attributes }, parent);
    this.serverContexts.set(request, trace.setSpan(parent, span));
    response.once('close', () => {
      const status = response.statusCode;
      span.setAttribute(HTTP_RESPONSE_STATUS_CODE, status);
      if (status >= 500) {
        span.setAttribute(ERROR_TYPE, String(status));
        span.setStatus({ code: SpanStatusCode.ERROR });
      }
      span.end();
    });
  }

  /** Wraps this server's emit once, so a request's listeners run in its span's context. */
  private runHandlersInContext(server: Server): void {
    if (this.wrappedServers.has(server)) return;
    this.wrappedServers.add(server);
    const contexts = this.serverContexts;
    const original = server.emit;
    server.emit = function emit(this: Server, event: string | symbol, ...args: unknown[]) {
      const ctx =
        event === 'request' || event === 'checkContinue'
          ? contexts.get(args[0] as IncomingMessage)
          : undefined;
      if (ctx === undefined) return original.apply(this, [event, ...args] as never);
      return context.with(ctx, () => original.apply(this, [event, ...args] as never));
    } as Server['emit'];
  }

  private clientRequest(request: ClientRequest): void {
    const parent = context.active();
    if (core.isTracingSuppressed(parent)) return; // e.g. the OTLP exporter's own requests
    const method = normalizedMethod(request.method);
    const scheme = request.protocol === 'https:' ? 'https' : 'http';
    const where = hostAndPort(
      String(request.getHeader('host') ?? request.host),
      scheme === 'https' ? 443 : 80,
    );
    const span = this.startClient(method, parent, {
      [URL_FULL]: `${scheme}://${request.getHeader('host') ?? request.host}${pathOnly(request.path)}`,
      ...(where && { [SERVER_ADDRESS]: where.host, [SERVER_PORT]: where.port }),
    });
    if (!request.headersSent) {
      propagation.inject(trace.setSpan(parent, span), request, {
        set: (carrier, key, value) => carrier.setHeader(key, value),
      });
    }
    this.clientSpans.set(request, span);
    request.once('close', () => this.endClient(request));
  }

  private fetchRequest(request: UndiciRequest): void {
    const parent = context.active();
    if (core.isTracingSuppressed(parent)) return;
    const origin = new URL(String(request.origin));
    const method = normalizedMethod(request.method);
    const span = this.startClient(method, parent, {
      [URL_FULL]: `${origin.origin}${pathOnly(request.path)}`,
      [SERVER_ADDRESS]: origin.hostname,
      [SERVER_PORT]: Number(origin.port) || (origin.protocol === 'https:' ? 443 : 80),
    });
    propagation.inject(trace.setSpan(parent, span), request, {
      set: (carrier, key, value) => carrier.addHeader(key, value),
    });
    this.clientSpans.set(request, span);
  }

  private startClient(method: string, parent: Context, attributes: Attributes): Span {
    return this.tracer.startSpan(
      method,
      { kind: SpanKind.CLIENT, attributes: { [HTTP_REQUEST_METHOD]: method, ...attributes } },
      parent,
    );
  }

  private clientStatus(request: object, status: number | undefined): void {
    const span = this.clientSpans.get(request);
    if (!span || status === undefined) return;
    span.setAttribute(HTTP_RESPONSE_STATUS_CODE, status);
    if (status >= 400) {
      span.setAttribute(ERROR_TYPE, String(status));
      span.setStatus({ code: SpanStatusCode.ERROR });
    }
  }

  private clientError(request: object, error: unknown, end = false): void {
    const span = this.clientSpans.get(request);
    if (!span) return;
    const type = (error as { code?: unknown })?.code ?? (error as Error)?.name ?? 'Error';
    span.setAttribute(ERROR_TYPE, String(type));
    span.setStatus({ code: SpanStatusCode.ERROR });
    if (end) this.endClient(request);
  }

  private endClient(request: object): void {
    const span = this.clientSpans.get(request);
    if (!span) return;
    this.clientSpans.delete(request);
    span.end();
  }
}

/** Each listener, guarded: a fault in jobwatch never reaches the request. */
function guarded(listeners: Record<string, Listener>): [string, Listener][] {
  return Object.entries(listeners).map(([channel, listener]) => [
    channel,
    (message: unknown) => guard('http tracing', () => listener(message)),
  ]);
}

function serverAttributes(request: IncomingMessage, method: string): Attributes {
  const encrypted = (request.socket as { encrypted?: boolean } | undefined)?.encrypted === true;
  const where = hostAndPort(request.headers.host, encrypted ? 443 : 80);
  const attributes: Attributes = {
    [HTTP_REQUEST_METHOD]: method,
    [URL_PATH]: pathOnly(request.url),
    [URL_SCHEME]: encrypted ? 'https' : 'http',
    [NETWORK_PROTOCOL_VERSION]: request.httpVersion,
  };
  if (where) {
    attributes[SERVER_ADDRESS] = where.host;
    attributes[SERVER_PORT] = where.port;
  }
  if (request.socket?.remoteAddress) attributes[CLIENT_ADDRESS] = request.socket.remoteAddress;
  const agent = request.headers['user-agent'];
  if (agent) attributes[USER_AGENT_ORIGINAL] = agent.slice(0, 256);
  return attributes;
}
