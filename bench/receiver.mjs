// The benchmark's OTLP receiver, a process of its own (placed on the Redis
// core, like a collector beside the app): every traced mode that exports
// sends its spans here over real OTLP/HTTP, where they are decoded as a
// collector would, then counted per run (the resource attribute bench.run) and
// dropped. run.mjs reads a run's count from the control port, so a mode that
// drops spans under load shows it.
//   stdout, once listening: {"otlp": "<url>", "control": "<url>"}
//   GET <control>/?run=<id>  → {"spans": <count>}
import { createServer } from 'node:http';
import { startOtlpReceiver } from '../examples/otlp-receiver.mjs';

const counts = new Map();
const receiver = await startOtlpReceiver({
  onSpans: (spans) => {
    for (const span of spans) {
      const run = String(span.resource['bench.run'] ?? '-');
      counts.set(run, (counts.get(run) ?? 0) + 1);
    }
    receiver.spans.length = 0; // counted: nothing is kept
  },
});
const control = createServer((req, res) => {
  const run = new URL(req.url ?? '/', 'http://control').searchParams.get('run');
  res.end(JSON.stringify({ spans: counts.get(run) ?? 0 }));
});
control.listen(0, '127.0.0.1', () => {
  const { port } = control.address();
  console.log(JSON.stringify({ otlp: receiver.url, control: `http://127.0.0.1:${port}` }));
});
