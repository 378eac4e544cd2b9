// The benchmark's OTLP receiver, a process of its own (placed on the Redis
// core, like a collector beside the app): every traced mode that exports
// sends its spans here over real OTLP/HTTP, where they are decoded as a
// collector would, then counted per run (the resource attribute bench.run) and
// dropped. run.mjs reads a run's count from the control port, so a mode that
// drops spans under load shows it.
//   stdout, once listening: {"otlp": "<url>", "control": "<url>"}
//   GET <control>/?run=<id>  → {"total": <spans>, "byQueue": {<queue>: {<span name>: <count>}}}
import { createServer } from 'node:http';
import { startOtlpReceiver } from '../examples/otlp-receiver.mjs';

/** run -> { total, byQueue: queue -> span name -> count } (the shape of the counting exporter's summary) */
const counts = new Map();
const queueOf = (span) =>
  span.attributes['messaging.destination.name'] ?? span.name.match(/bench-[a-z]+/)?.[0] ?? '-';
const receiver = await startOtlpReceiver({
  onSpans: (spans) => {
    for (const span of spans) {
      const run = String(span.resource['bench.run'] ?? '-');
      const summary = counts.get(run) ?? { total: 0, byQueue: {} };
      counts.set(run, summary);
      summary.total++;
      const queue = queueOf(span);
      summary.byQueue[queue] ??= {};
      const names = summary.byQueue[queue];
      names[span.name] = (names[span.name] ?? 0) + 1;
    }
    receiver.spans.length = 0; // counted: nothing is kept
  },
});
const control = createServer((req, res) => {
  const run = new URL(req.url ?? '/', 'http://control').searchParams.get('run');
  res.end(JSON.stringify(counts.get(run) ?? { total: 0, byQueue: {} }));
});
control.listen(0, '127.0.0.1', () => {
  const { port } = control.address();
  console.log(JSON.stringify({ otlp: receiver.url, control: `http://127.0.0.1:${port}` }));
});
