// A small OTLP/HTTP receiver for traces, metrics and logs: it stands in for a
// trace backend in the demo and for a collector in tests. It accepts both
// OTLP/HTTP encodings (protobuf, the exporters' default, and JSON), gzip or
// not, and hands out spans, metric points and log records in one normalised
// shape.
import { once } from 'node:events';
import { createServer } from 'node:http';
import { gunzipSync } from 'node:zlib';

/**
 * @typedef {{ traceId: string, spanId: string, parentSpanId: string, name: string, kind: number,
 *   attributes: Record<string, unknown>, events: { name: string, attributes: Record<string, unknown> }[],
 *   links: { traceId: string, spanId: string, attributes: Record<string, unknown> }[],
 *   status: { code: number, message: string }, resource: Record<string, unknown>, scope: string }} ReceivedSpan
 * @typedef {{ name: string, unit: string, type: 'gauge' | 'sum' | 'histogram', resource: Record<string, unknown>,
 *   points: { attributes: Record<string, unknown>, value: number }[] }} ReceivedMetric
 * @typedef {{ eventName: string, severityNumber: number, severityText: string, body: unknown,
 *   attributes: Record<string, unknown>, traceId: string, spanId: string,
 *   resource: Record<string, unknown>, scope: string }} ReceivedLog
 */

const DECODERS = {
  '/v1/traces': { json: tracesFromJson, protobuf: tracesFromProtobuf },
  '/v1/metrics': { json: metricsFromJson, protobuf: metricsFromProtobuf },
  '/v1/logs': { json: logsFromJson, protobuf: logsFromProtobuf },
};

/** Starts the receiver on 127.0.0.1:`port` (0 = any free port). */
export async function startOtlpReceiver({ port = 0, onSpans, onLogs } = {}) {
  /** @type {ReceivedSpan[]} */
  const spans = [];
  /** @type {ReceivedMetric[]} */
  const metrics = [];
  /** @type {ReceivedLog[]} */
  const logs = [];
  const server = createServer((req, res) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      const decoder = req.method === 'POST' ? DECODERS[req.url] : undefined;
      if (!decoder) {
        res.writeHead(404).end();
        return;
      }
      try {
        let body = Buffer.concat(chunks);
        if (req.headers['content-encoding'] === 'gzip') body = gunzipSync(body);
        const isJson = String(req.headers['content-type']).includes('json');
        const received = isJson
          ? decoder.json(JSON.parse(body.toString('utf8')))
          : decoder.protobuf(body);
        if (req.url === '/v1/metrics') metrics.push(...received);
        else if (req.url === '/v1/logs') {
          logs.push(...received);
          onLogs?.(received);
        } else {
          spans.push(...received);
          onSpans?.(received);
        }
        res.writeHead(200, {
          'content-type': isJson ? 'application/json' : 'application/x-protobuf',
        });
        res.end(isJson ? '{}' : '');
      } catch (err) {
        res.writeHead(400).end(String(err));
      }
    });
  });
  server.listen(port, '127.0.0.1');
  await once(server, 'listening');
  const address = /** @type {import('node:net').AddressInfo} */ (server.address());
  return {
    url: `http://127.0.0.1:${address.port}`,
    spans,
    metrics,
    logs,
    close: () => new Promise((resolve) => server.close(() => resolve(undefined))),
  };
}

// --- OTLP/JSON -------------------------------------------------------------

function tracesFromJson(request) {
  const out = [];
  for (const rs of request.resourceSpans ?? []) {
    const resource = jsonAttributes(rs.resource?.attributes);
    for (const ss of rs.scopeSpans ?? []) {
      for (const s of ss.spans ?? []) {
        out.push({
          traceId: s.traceId ?? '',
          spanId: s.spanId ?? '',
          parentSpanId: s.parentSpanId ?? '',
          name: s.name,
          kind: s.kind ?? 0,
          attributes: jsonAttributes(s.attributes),
          events: (s.events ?? []).map((e) => ({
            name: e.name,
            attributes: jsonAttributes(e.attributes),
          })),
          links: (s.links ?? []).map((l) => ({
            traceId: l.traceId,
            spanId: l.spanId,
            attributes: jsonAttributes(l.attributes),
          })),
          status: { code: s.status?.code ?? 0, message: s.status?.message ?? '' },
          resource,
          scope: ss.scope?.name ?? '',
        });
      }
    }
  }
  return out;
}

function jsonAttributes(list = []) {
  return Object.fromEntries(list.map((kv) => [kv.key, jsonValue(kv.value ?? {})]));
}

function metricsFromJson(request) {
  const out = [];
  for (const rm of request.resourceMetrics ?? []) {
    const resource = jsonAttributes(rm.resource?.attributes);
    for (const sm of rm.scopeMetrics ?? []) {
      for (const m of sm.metrics ?? []) {
        const type = ['gauge', 'sum', 'histogram'].find((t) => m[t]);
        if (!type) continue;
        const points = (m[type].dataPoints ?? []).map((p) => ({
          attributes: jsonAttributes(p.attributes),
          value: type === 'histogram' ? Number(p.count) : (p.asDouble ?? Number(p.asInt)),
        }));
        out.push({ name: m.name, unit: m.unit ?? '', type, resource, points });
      }
    }
  }
  return out;
}

function logsFromJson(request) {
  const out = [];
  for (const rl of request.resourceLogs ?? []) {
    const resource = jsonAttributes(rl.resource?.attributes);
    for (const sl of rl.scopeLogs ?? []) {
      for (const r of sl.logRecords ?? []) {
        out.push({
          eventName: r.eventName ?? '',
          severityNumber: r.severityNumber ?? 0,
          severityText: r.severityText ?? '',
          body: r.body ? jsonValue(r.body) : undefined,
          attributes: jsonAttributes(r.attributes),
          traceId: r.traceId ?? '',
          spanId: r.spanId ?? '',
          resource,
          scope: sl.scope?.name ?? '',
        });
      }
    }
  }
  return out;
}

function jsonValue(v) {
  if ('stringValue' in v) return v.stringValue;
  if ('boolValue' in v) return v.boolValue;
  if ('intValue' in v) return Number(v.intValue);
  if ('doubleValue' in v) return v.doubleValue;
  if ('arrayValue' in v) return (v.arrayValue.values ?? []).map(jsonValue);
  return undefined;
}

// --- OTLP/protobuf: a minimal wire-format reader for the trace messages ----

/** Yields [fieldNumber, wireType, value] for each field of one message. */
function* fields(buf) {
  let pos = 0;
  const varint = () => {
    let result = 0n;
    let shift = 0n;
    for (;;) {
      const byte = buf[pos++];
      result |= BigInt(byte & 0x7f) << shift;
      if (byte < 0x80) return result;
      shift += 7n;
    }
  };
  while (pos < buf.length) {
    const key = Number(varint());
    const field = key >>> 3;
    const wire = key & 7;
    if (wire === 0) yield [field, wire, varint()];
    else if (wire === 1) {
      yield [field, wire, buf.subarray(pos, pos + 8)];
      pos += 8;
    } else if (wire === 2) {
      const len = Number(varint());
      yield [field, wire, buf.subarray(pos, pos + len)];
      pos += len;
    } else if (wire === 5) {
      yield [field, wire, buf.subarray(pos, pos + 4)];
      pos += 4;
    } else throw new Error(`unsupported protobuf wire type ${wire}`);
  }
}

const text = (b) => Buffer.from(b).toString('utf8');
const hex = (b) => Buffer.from(b).toString('hex');

function tracesFromProtobuf(buf) {
  const out = [];
  for (const [f, , rs] of fields(buf)) if (f === 1) out.push(...resourceSpans(rs));
  return out;
}

function metricsFromProtobuf(buf) {
  const out = [];
  for (const [f, , rm] of fields(buf)) if (f === 1) out.push(...resourceMetrics(rm));
  return out;
}

function logsFromProtobuf(buf) {
  const out = [];
  for (const [f, , rl] of fields(buf)) if (f === 1) out.push(...resourceLogs(rl));
  return out;
}

function resourceLogs(buf) {
  const resource = {};
  const out = [];
  for (const [f, , v] of fields(buf)) {
    if (f === 1)
      for (const [rf, , rv] of fields(v)) if (rf === 1) Object.assign(resource, keyValue(rv));
    if (f === 2) {
      let scope = '';
      const records = [];
      for (const [sf, , sv] of fields(v)) {
        if (sf === 1) for (const [nf, , nv] of fields(sv)) if (nf === 1) scope = text(nv);
        if (sf === 2) records.push(sv);
      }
      for (const r of records) out.push({ ...logRecord(r), resource, scope });
    }
  }
  return out;
}

// LogRecord: severity_number 2, severity_text 3, body 5, attributes 6, trace_id 9,
// span_id 10, event_name 12.
function logRecord(buf) {
  const r = {
    eventName: '',
    severityNumber: 0,
    severityText: '',
    body: undefined,
    attributes: {},
    traceId: '',
    spanId: '',
  };
  for (const [f, , v] of fields(buf)) {
    if (f === 2) r.severityNumber = Number(v);
    else if (f === 3) r.severityText = text(v);
    else if (f === 5) r.body = anyValue(v);
    else if (f === 6) Object.assign(r.attributes, keyValue(v));
    else if (f === 9) r.traceId = hex(v);
    else if (f === 10) r.spanId = hex(v);
    else if (f === 12) r.eventName = text(v);
  }
  return r;
}

function resourceMetrics(buf) {
  const resource = {};
  const metricBufs = [];
  for (const [f, , v] of fields(buf)) {
    if (f === 1)
      for (const [rf, , rv] of fields(v)) if (rf === 1) Object.assign(resource, keyValue(rv));
    if (f === 2) for (const [sf, , sv] of fields(v)) if (sf === 2) metricBufs.push(sv);
  }
  return metricBufs.map((m) => ({ ...metric(m), resource }));
}

// Metric fields: name 1, unit 3, gauge 5, sum 7, histogram 9; each holds data_points as field 1.
const METRIC_TYPES = { 5: 'gauge', 7: 'sum', 9: 'histogram' };

function metric(buf) {
  const m = { name: '', unit: '', type: 'gauge', points: [] };
  for (const [f, , v] of fields(buf)) {
    if (f === 1) m.name = text(v);
    else if (f === 3) m.unit = text(v);
    else if (METRIC_TYPES[f]) {
      m.type = METRIC_TYPES[f];
      for (const [df, , dv] of fields(v))
        if (df === 1) m.points.push(dataPoint(dv, m.type === 'histogram'));
    }
  }
  return m;
}

// NumberDataPoint: attributes 7, as_double 4, as_int 6. HistogramDataPoint: attributes 9, count 4.
function dataPoint(buf, histogram) {
  const p = { attributes: {}, value: 0 };
  for (const [f, , v] of fields(buf)) {
    if (f === (histogram ? 9 : 7)) Object.assign(p.attributes, keyValue(v));
    else if (f === 4)
      p.value = histogram
        ? Number(Buffer.from(v).readBigUInt64LE(0))
        : Buffer.from(v).readDoubleLE(0);
    else if (f === 6 && !histogram) p.value = Number(Buffer.from(v).readBigInt64LE(0));
  }
  return p;
}

function resourceSpans(buf) {
  const resource = {};
  const scopes = [];
  for (const [f, , v] of fields(buf)) {
    if (f === 1)
      for (const [rf, , rv] of fields(v)) if (rf === 1) Object.assign(resource, keyValue(rv));
    if (f === 2) scopes.push(v);
  }
  return scopes.flatMap((s) => scopeSpans(s, resource));
}

function scopeSpans(buf, resource) {
  let scope = '';
  const spans = [];
  for (const [f, , v] of fields(buf)) {
    if (f === 1) for (const [sf, , sv] of fields(v)) if (sf === 1) scope = text(sv);
    if (f === 2) spans.push(v);
  }
  return spans.map((s) => ({ ...span(s), resource, scope }));
}

function span(buf) {
  const s = {
    traceId: '',
    spanId: '',
    parentSpanId: '',
    name: '',
    kind: 0,
    attributes: {},
    events: [],
    links: [],
    status: { code: 0, message: '' },
  };
  for (const [f, , v] of fields(buf)) {
    if (f === 1) s.traceId = hex(v);
    else if (f === 2) s.spanId = hex(v);
    else if (f === 4) s.parentSpanId = hex(v);
    else if (f === 5) s.name = text(v);
    else if (f === 6) s.kind = Number(v);
    else if (f === 9) Object.assign(s.attributes, keyValue(v));
    else if (f === 11) s.events.push(event(v));
    else if (f === 13) s.links.push(link(v));
    else if (f === 15) s.status = status(v);
  }
  return s;
}

function event(buf) {
  const e = { name: '', attributes: {} };
  for (const [f, , v] of fields(buf)) {
    if (f === 2) e.name = text(v);
    else if (f === 3) Object.assign(e.attributes, keyValue(v));
  }
  return e;
}

function link(buf) {
  const l = { traceId: '', spanId: '', attributes: {} };
  for (const [f, , v] of fields(buf)) {
    if (f === 1) l.traceId = hex(v);
    else if (f === 2) l.spanId = hex(v);
    else if (f === 4) Object.assign(l.attributes, keyValue(v));
  }
  return l;
}

function status(buf) {
  const st = { code: 0, message: '' };
  for (const [f, , v] of fields(buf)) {
    if (f === 2) st.message = text(v);
    else if (f === 3) st.code = Number(v);
  }
  return st;
}

function keyValue(buf) {
  let key = '';
  let value;
  for (const [f, , v] of fields(buf)) {
    if (f === 1) key = text(v);
    else if (f === 2) value = anyValue(v);
  }
  return { [key]: value };
}

function anyValue(buf) {
  for (const [f, , v] of fields(buf)) {
    if (f === 1) return text(v);
    if (f === 2) return v === 1n;
    if (f === 3) return Number(BigInt.asIntN(64, v));
    if (f === 4) return Buffer.from(v).readDoubleLE(0);
    if (f === 5) return [...fields(v)].filter(([af]) => af === 1).map(([, , av]) => anyValue(av));
    if (f === 7) return hex(v);
  }
  return undefined;
}
