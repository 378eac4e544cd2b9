// The README's first command, `npm run demo`: after the build (which `npm test`
// has just done) it is `node examples/demo.mjs`, run here with the README's
// environment (no REDIS_URL, no OTLP endpoint). It must tell the whole story in
// order, on a real Prometheus and Alertmanager, and stop cleanly on Ctrl-C.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, expect, it } from 'vitest';
import { type NodeProcess, repoRoot, spawnNode } from '../helpers/node-process.js';
import { waitFor } from '../helpers/ports.js';

const steps: [string, RegExp][] = [
  [
    'the trace from the request to the job',
    /demo: trace [0-9a-f]{32} \(request POST \/orders → job \d+\):\n {2}└ POST {2}\[demo-api\]\n {4}└ send orders {2}\[demo-api\]\n {6}└ process orders {2}\[demo-worker\]/,
  ],
  [
    'the metrics, with the worker up',
    /worker_status\{jobwatch_registry="redis:\/\/127\.0\.0\.1:\d+\/0#bull",bullmq_worker_name="orders",messaging_destination_name="orders"[^}]*\} 1/,
  ],
  ['the SIGKILL', /demo: SIGKILL → worker \(pid \d+\)/],
  [
    'the death, as a log record from the process that saw it',
    /event: bullmq\.worker\.dead \(from demo-api\): worker orders \(queue orders\) instance \S+ on \S+ pid \d+ is dead: no heartbeat for/,
  ],
  [
    'the page as Alertmanager delivered it',
    /alert: \[page\] FIRING BackgroundWorkerDown \(critical\) \{bullmq_worker_name="orders", jobwatch_registry="redis:\/\/127\.0\.0\.1:\d+\/0#bull", messaging_destination_name="orders"\}: BullMQ worker orders on queue orders is down\.\nalert: {5}runbook: \S+#backgroundworkerdown/,
  ],
  ['the seconds from the kill', /demo: the page arrived (\d+\.\d) s after the SIGKILL/],
  ['the restart', /demo: worker restarted \(pid \d+\)/],
  ['the resolved notification', /alert: \[page\] RESOLVED BackgroundWorkerDown/],
  ['orders until Ctrl-C', /demo: still sending an order every second; Ctrl-C to stop/],
];

it('is what `npm run demo` runs after the build', () => {
  const pkg = JSON.parse(readFileSync(join(repoRoot, 'package.json'), 'utf8'));
  expect(pkg.scripts.demo).toBe('npm run build && node examples/demo.mjs');
});

const demos: NodeProcess[] = [];

/** `node examples/demo.mjs` with the README's environment (no REDIS_URL, no OTLP endpoint). */
function startDemo(...args: string[]): NodeProcess {
  const demo = spawnNode(['examples/demo.mjs', ...args], {
    REDIS_URL: undefined,
    OTEL_EXPORTER_OTLP_ENDPOINT: undefined,
  });
  demos.push(demo);
  return demo;
}

// A demo that a failed assertion left running is stopped as Ctrl-C stops it:
// SIGKILL would leave its Redis, Prometheus, Alertmanager and apps running on
// the machine (they did, after one failed run of this file).
afterEach(async () => {
  await Promise.all(demos.splice(0).map((demo) => demo.stop('SIGINT', 20_000)));
});

it('tells the story in order: trace, metrics, SIGKILL, page, restart, resolved; Ctrl-C stops it', async () => {
  const demo = startDemo();
  const output = () => `${demo.stdout}\n--- stderr ---\n${demo.stderr}`;
  await waitFor(() => /Ctrl-C to stop/.test(demo.stdout) || !demo.running, {
    timeoutMs: 180_000,
    what: `the demo's story (${output()})`,
  });
  expect(demo.running, output()).toBe(true);
  let from = 0;
  for (const [name, pattern] of steps) {
    const match = pattern.exec(demo.stdout.slice(from));
    expect(match, `${name}, after offset ${from}:\n${output()}`).not.toBeNull();
    from += match!.index + match![0].length;
  }
  // The `for` (5 s) has to pass before the page: never sooner. The upper bound is loose.
  const pageSeconds = Number(/the page arrived (\d+\.\d) s/.exec(demo.stdout)![1]);
  expect(pageSeconds).toBeGreaterThanOrEqual(5);
  expect(pageSeconds).toBeLessThan(90);

  demo.child.kill('SIGINT');
  expect(await demo.exited, output()).toEqual({ code: 0, signal: null });
}, 240_000);

it('leaves the worker alone with --no-kill', async () => {
  const demo = startDemo('--no-kill');
  await waitFor(() => /Ctrl-C to stop/.test(demo.stdout) || !demo.running, {
    timeoutMs: 120_000,
    what: `the demo (${demo.stdout}${demo.stderr})`,
  });
  expect(demo.stdout).not.toContain('SIGKILL');
  demo.child.kill('SIGINT');
  expect(await demo.exited).toEqual({ code: 0, signal: null });
}, 180_000);
