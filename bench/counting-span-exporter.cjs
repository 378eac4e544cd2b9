// The one span exporter every traced mode uses: it counts spans by queue and
// name, then drops them, so exporter I/O is not part of what is measured.
const { ExportResultCode } = require('@opentelemetry/core');

// Not every instrumentation sets messaging.destination.name on every span; the
// benchmark's queues are all named bench-*, so the span name tells the rest.
function queueInName(name) {
  return name.match(/bench-[a-z]+/)?.[0] ?? '-';
}

class CountingSpanExporter {
  total = 0;
  /** queue (or '-' when a span names none) -> span name -> count */
  byQueue = new Map();

  export(spans, done) {
    for (const span of spans) this.count(span);
    done({ code: ExportResultCode.SUCCESS });
  }

  count(span) {
    this.total++;
    const queue = span.attributes['messaging.destination.name'] ?? queueInName(span.name);
    const names = this.byQueue.get(queue) ?? new Map();
    this.byQueue.set(queue, names);
    names.set(span.name, (names.get(span.name) ?? 0) + 1);
  }

  summary() {
    const byQueue = {};
    for (const [queue, names] of this.byQueue) byQueue[queue] = Object.fromEntries(names);
    return { total: this.total, byQueue };
  }

  forceFlush() {
    return Promise.resolve();
  }

  shutdown() {
    return Promise.resolve();
  }
}

module.exports = { CountingSpanExporter };
