// Turns the runs of all rounds into per-mode figures and a markdown table.
import { tracedQueue } from './modes.mjs';
import { median, minMax } from './stats.mjs';

const fmt = (n, digits = 0) => (Number.isFinite(n) ? n.toFixed(digits) : '–');
const signed = (n, digits = 0) =>
  Number.isFinite(n) ? `${n >= 0 ? '+' : ''}${n.toFixed(digits)}` : '–';

/** rounds: array of { [modeId]: run }. Returns one summary per mode, in mode order. */
export function summarize(modes, rounds) {
  return modes.map((mode) => {
    const runs = rounds.map((r) => r[mode.id]).filter(Boolean);
    const good = runs.filter((r) => r.status === 'ok');
    const paired = rounds
      .map((r) => [r[mode.id], r[mode.baseline]])
      .filter(([a, b]) => a?.status === 'ok' && b?.status === 'ok');
    const pick = (f) => median(good.map(f).filter(Number.isFinite));
    const ratios = paired.map(([a, b]) => a.throughput.jobsPerSec / b.throughput.jobsPerSec);
    // The same ratio from node CPU per job alone: what throughput would be if node were the only bottleneck.
    const cpuRatios = paired.map(([a, b]) => b.throughput.cpuUsPerJob / a.throughput.cpuUsPerJob);
    return {
      mode,
      runs: runs.length,
      ok: good.length,
      problems: [...new Set(runs.flatMap((r) => r.problems ?? []))],
      jobsPerSec: pick((r) => r.throughput.jobsPerSec),
      ratio: spread(ratios),
      cpuRatio: spread(cpuRatios),
      cpuUsPerJob: pick((r) => r.throughput.cpuUsPerJob),
      cpuDelta: median(paired.map(([a, b]) => a.throughput.cpuUsPerJob - b.throughput.cpuUsPerJob)),
      mainUsPerJob: pick((r) => r.throughput.mainThreadCpuUsPerJob),
      mainDelta: median(
        paired
          .map(([a, b]) => a.throughput.mainThreadCpuUsPerJob - b.throughput.mainThreadCpuUsPerJob)
          .filter(Number.isFinite),
      ),
      redisPerJob: pick((r) => r.throughput.redis?.commandsPerJob),
      redisDelta: median(
        paired
          .map(([a, b]) => a.throughput.redis?.commandsPerJob - b.throughput.redis?.commandsPerJob)
          .filter(Number.isFinite),
      ),
      redisCpuUsPerJob: pick((r) => r.throughput.redis?.cpuUsPerJob),
      add: { p50: pick((r) => r.add?.p50), p99: pick((r) => r.add?.p99) },
      pickup: { p50: pick((r) => r.pickup?.p50), p99: pick((r) => r.pickup?.p99) },
      peakRssMB: pick((r) => r.peakRssMB),
      // Spans that reached the OTLP receiver, of those made: 1.00 when none was dropped.
      delivered:
        mode.sdk === 'own' // nothing in that process counts the spans it made
          ? undefined
          : median(
              good.filter((r) => r.received !== undefined).map((r) => r.received / r.spans.total),
            ),
      bullmqVersion: good[0]?.bullmqVersion,
      verification: good.at(-1) && verification(mode, good.at(-1)),
    };
  });
}

function spread(values) {
  return values.length ? { median: median(values), ...minMax(values) } : undefined;
}

/** Spans per throughput job by span name, and the metric totals, of one run. */
function verification(mode, run) {
  const jobs = run.throughput.expected;
  const spans = run.spans?.byQueue?.[tracedQueue(mode)];
  const spansPerJob =
    spans && Object.fromEntries(Object.entries(spans).map(([n, c]) => [n, c / jobs]));
  const addSpans = run.spans?.byQueue?.['bench-add'];
  return { jobs, spansPerJob, addSpans, spanTotal: run.spans?.total, metrics: run.metrics };
}

/** The floor's row says how many times the floor jobwatch (everything on) adds per job. */
function floorCell(summaries, floor) {
  const jobwatch = summaries.find((s) => s.mode.id === 'jobwatch');
  const times = jobwatch?.cpuDelta / floor.cpuUsPerJob;
  return Number.isFinite(times) ? `jobwatch adds **${fmt(times, 1)}×** this` : '–';
}

function exportCell(mode) {
  if (!mode.traced) return '–';
  return { otlp: 'OTLP proto', 'otlp-json': 'OTLP JSON' }[mode.export] ?? 'none';
}

function ratioCell(s, ratio) {
  if (s.mode.workload === 'floor') return 'no BullMQ';
  if (s.mode.baseline === s.mode.id) return 'baseline';
  if (!ratio) return '–';
  return `**${fmt(ratio.median, 2)}** (${fmt(ratio.min, 2)}–${fmt(ratio.max, 2)})`;
}

function deltaCell(value, delta, digits, isBaseline) {
  return isBaseline ? fmt(value, digits) : `${fmt(value, digits)} (${signed(delta, digits)})`;
}

export function markdown(summaries, meta) {
  const lines = [
    `# jobwatch benchmark`,
    '',
    `Command: \`${meta.command}\`  `,
    `Machine: ${meta.machine}  `,
    `jobwatch: commit ${meta.revision}  `,
    `Run: ${meta.date}, ${meta.rounds} interleaved round(s), ${meta.plan.jobs} jobs per throughput run ` +
      `(addBulk in chunks of ${meta.plan.chunk}, Worker concurrency ${meta.plan.concurrency}), ` +
      `${meta.plan.warmup} warm-up jobs; ${meta.plan.adds} sequential adds; ${meta.plan.pickups} pickups. ` +
      `${meta.pinning}`,
    '',
    '| mode | BullMQ | export | jobs/s | throughput vs baseline, median (min–max) | same from node CPU/job | node CPU µs/job (Δ) | of which main thread (Δ) | Redis cmds/job (Δ) | add p50 / p99 ms | pickup p50 / p99 ms | peak RSS MB | spans/job | spans received ÷ made | runs ok |',
    '|---|---|---|---:|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|',
  ];
  for (const s of summaries) {
    const isBaseline = s.mode.baseline === s.mode.id;
    const spansPerJob = s.verification?.spansPerJob
      ? fmt(
          Object.values(s.verification.spansPerJob).reduce((a, b) => a + b, 0),
          2,
        )
      : s.mode.traced
        ? '?'
        : '0';
    const isFloor = s.mode.workload === 'floor';
    lines.push(
      `| ${s.mode.label} | ${isFloor ? '–' : (s.bullmqVersion ?? '–')} | ${exportCell(s.mode)} | ${fmt(s.jobsPerSec)} | ${ratioCell(s, s.ratio)} | ` +
        `${isFloor ? floorCell(summaries, s) : ratioCell(s, s.cpuRatio)} | ` +
        `${deltaCell(s.cpuUsPerJob, s.cpuDelta, 0, isBaseline)} | ${deltaCell(s.mainUsPerJob, s.mainDelta, 0, isBaseline)} | ${deltaCell(s.redisPerJob, s.redisDelta, 2, isBaseline)} | ` +
        `${fmt(s.add.p50, 2)} / ${fmt(s.add.p99, 2)} | ${fmt(s.pickup.p50, 2)} / ${fmt(s.pickup.p99, 2)} | ` +
        `${fmt(s.peakRssMB)} | ${spansPerJob} | ${fmt(s.delivered, 2)} | ${s.ok}/${s.runs} |`,
    );
  }
  lines.push('', ...notes(summaries, meta));
  return `${lines.join('\n')}\n`;
}

function notes(summaries, meta) {
  const out = [
    'Each mode ran in its own fresh node process; ratios are the median of per-round ratios to the',
    "mode's own plain baseline (same round), Δ columns the median per-round difference to it.",
    '"Same from node CPU/job" is baseline CPU per job ÷ mode CPU per job, per round: the throughput',
    'ratio if node were the only bottleneck, and far less disturbed by other load on the machine.',
    'Node CPU counts every thread of the process; the main-thread column is the JavaScript thread alone, the rest',
    "is mostly V8's helper threads collecting garbage, so it grows with what a mode allocates.",
    'Traced modes export over real OTLP/HTTP (protobuf, the SDK default, or JSON) through a BatchSpanProcessor at its',
    'defaults to a receiver process (on the Redis core) that decodes every request; "received ÷ made" compares what it',
    'got with the spans the mode ended. "none" rows count and drop their spans in-process (no exporter I/O).',
    'Redis commands are INFO commandstats deltas over the throughput phase: they include the commands run',
    "inside BullMQ's Lua scripts (about 2 EVALSHA per job), and jobwatch's per-interval heartbeats and queue-depth reads.",
    `API-style rows: ${meta.plan.apiClients} producers each send one job at a time with Queue.add (1 KB payload),`,
    'the next once the last was picked up; each job awaits 1 ms of I/O; Worker concurrency as above;',
    `${meta.plan.apiJobs} timed jobs after ${meta.plan.apiWarmup}; pickup is from just before each Queue.add to its processor's first line.`,
    `Fixed-rate rows: ${meta.plan.rate} jobs/s added one at a time with Queue.add (1 KB payload) on a schedule, whatever`,
    `the telemetry costs; each job awaits 1 ms of I/O; Worker concurrency as above; ${meta.plan.rateSeconds} s timed after ${meta.plan.rateWarmupSeconds} s;`,
    'jobs/s is the rate achieved, and node CPU µs/job answers "how many more cores do my workers need".',
    `SDK floor: ${meta.plan.floorJobs} iterations of what jobwatch asks of the stock SDK per job (a producer and a consumer`,
    'span with the same names and attributes, inject + JSON metadata, parse + extract, two histogram records)',
    'in a loop, same SDK setup as the traced modes; its CPU µs/job is the least any instrumentation on that SDK',
    "can add per job; the row's ratio compares it with jobwatch's own Δ (everything on).",
    '',
    '## Verification (last good run of each mode)',
    '',
  ];
  for (const s of summaries) {
    out.push(`- **${s.mode.label}**: ${s.ok}/${s.runs} runs ok`);
    for (const p of s.problems) out.push(`  - problem: ${p.replaceAll('\n', ' ⏎ ')}`);
    const v = s.verification;
    if (!v) continue;
    if (v.spansPerJob) {
      const names = Object.entries(v.spansPerJob).map(([n, c]) => `\`${n}\` ${fmt(c, 3)}`);
      out.push(
        `  - spans per ${tracedQueue(s.mode)} job: ${names.join(', ') || 'none'} (all queues: ${v.spanTotal} spans)`,
      );
    }
    if (v.addSpans) {
      out.push(
        `  - spans on bench-add: ${Object.entries(v.addSpans)
          .map(([n, c]) => `\`${n}\` ${c}`)
          .join(', ')}`,
      );
    }
    if (v.metrics) {
      const interesting = Object.entries(v.metrics).filter(([, value]) => value > 0);
      out.push(
        `  - metric totals: ${interesting.map(([n, c]) => `\`${n}\` ${c}`).join(', ') || 'none'}`,
      );
    }
  }
  return out;
}
