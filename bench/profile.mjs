// `node bench/run.mjs --profile plain6,jobwatch,…`: full-size runs of each mode
// with a profiler on during the timed throughput phase only (3 interleaved
// CPU-profiled rounds, `--rounds N` for another count, then one run under
// V8's sampling heap profiler), and where that CPU and memory went per job:
// by package, the hottest functions, and jobwatch's own functions (mapped
// back to src/ file:line through the source maps), so the cost on the per-job
// path can be found and removed. For each mode whose baseline was profiled
// too, a table splits what the mode adds over it by package.
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { SourceMap } from 'node:module';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { CORES, commandLine, machine, revision } from './machine.mjs';
import { MODES, withComparison } from './modes.mjs';
import { FULL } from './plans.mjs';
import { startRedis } from './redis-server.mjs';
import { runChild, startReceiver } from './run-mode.mjs';
import { median } from './stats.mjs';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const TOP = 25;

/** dist/ folders whose code is jobwatch's: this checkout's, and a --compare checkout's. */
const JOBWATCH_DIST = [`${ROOT}dist/`];

function area(url) {
  if (!url) return '(native, GC)';
  const path = url.replace(/^file:\/\//, '');
  if (JOBWATCH_DIST.some((dist) => path.startsWith(dist))) return 'jobwatch';
  const pkg = path.match(/node_modules\/((?:@[^/]+\/)?[^/]+)\/(?!.*node_modules)/);
  if (pkg) return pkg[1];
  if (url.startsWith('node:')) return 'node internals';
  return path.startsWith(`${ROOT}bench/`) ? 'bench' : path;
}

const maps = new Map();
/** src/ file:line of a frame in jobwatch's dist/, via the emitted source map. */
function original(path, line, column) {
  if (!maps.has(path)) {
    try {
      maps.set(path, new SourceMap(JSON.parse(readFileSync(`${path}.map`, 'utf8'))));
    } catch {
      maps.set(path, undefined);
    }
  }
  const entry = maps.get(path)?.findEntry(line, column);
  if (!entry?.originalSource) return undefined;
  const source = new URL(entry.originalSource, `file://${path}`).pathname.replace(ROOT, '');
  return `${source}:${entry.originalLine + 1}`;
}

/** "function file:line", jobwatch's mapped to src/. */
function frameKey({ functionName, url, lineNumber, columnNumber }) {
  const name = functionName || '(anonymous)';
  if (!url) return name;
  const path = url.replace(/^file:\/\//, '');
  const mapped = area(url) === 'jobwatch' && original(path, lineNumber, columnNumber);
  return `${name} ${mapped || `${path.replace(ROOT, '')}:${lineNumber + 1}`}`;
}

// Code that exists only to produce telemetry.
const TELEMETRY = /^(jobwatch|@opentelemetry\/.*|bullmq-otel|@appsignal\/.*)$/;
const NEUTRAL = new Set(['node internals', '(native, GC)']);

/**
 * Who a sample's CPU belongs to: walking from the leaf towards the root past
 * node internals and builtins, the first package frame decides. If it is
 * telemetry code, the sample is telemetry cost, charged to the innermost
 * jobwatch function above it (when there is one before any other package):
 * that function and the OpenTelemetry calls it makes. BullMQ's own work that
 * a jobwatch wrapper merely calls is not charged to jobwatch.
 */
function owner(id, nodes, parent) {
  let telemetry = false;
  for (let n = id; n !== undefined; n = parent.get(n)) {
    const frame = nodes.get(n).callFrame;
    const pkg = area(frame.url);
    if (NEUTRAL.has(pkg)) continue;
    if (!TELEMETRY.test(pkg)) return { telemetry };
    telemetry = true;
    if (pkg === 'jobwatch') return { telemetry, jobwatch: frameKey(frame) };
  }
  return { telemetry };
}

/** Self µs per function and per package, and the telemetry µs per jobwatch function. */
export function analyze(profile) {
  const nodes = new Map(profile.nodes.map((n) => [n.id, n]));
  const parent = new Map();
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const self = new Map();
  const byArea = new Map();
  const byJobwatch = new Map();
  const byCaller = new Map();
  let total = 0;
  let telemetry = 0;
  const add = (map, key, us) => map.set(key, (map.get(key) ?? 0) + us);
  profile.samples.forEach((id, i) => {
    const us = profile.timeDeltas[i + 1] ?? 0; // a sample's time runs until the next one
    const frame = nodes.get(id).callFrame;
    if (frame.functionName === '(idle)') return;
    total += us;
    add(self, frameKey(frame), us);
    add(byArea, area(frame.url), us);
    add(byCaller, callerArea(id, nodes, parent), us);
    const who = owner(id, nodes, parent);
    if (who.telemetry) telemetry += us;
    if (who.jobwatch) add(byJobwatch, who.jobwatch, us);
  });
  const sorted = (map) => [...map].sort((a, b) => b[1] - a[1]);
  return {
    total,
    telemetry,
    gc: self.get('(garbage collector)') ?? 0,
    self: sorted(self),
    byArea: sorted(byArea),
    byCaller,
    byJobwatch: sorted(byJobwatch),
  };
}

/**
 * Bytes allocated per package, the telemetry share, and the telemetry bytes
 * per jobwatch function, from a sampling heap profile (collected objects
 * included). Allocations made by builtins (no script) are charged the way a
 * CPU sample is: to the first package frame above them.
 */
export function analyzeAllocations(profile) {
  const nodes = new Map();
  const parent = new Map();
  const visit = (node) => {
    nodes.set(node.id, node);
    for (const child of node.children ?? []) {
      parent.set(child.id, node.id);
      visit(child);
    }
  };
  visit(profile.head);
  const byArea = new Map();
  const byJobwatch = new Map();
  let total = 0;
  let telemetry = 0;
  const add = (map, key, bytes) => map.set(key, (map.get(key) ?? 0) + bytes);
  for (const [id, node] of nodes) {
    const bytes = node.selfSize;
    if (!bytes) continue;
    total += bytes;
    add(byArea, callerArea(id, nodes, parent), bytes);
    const who = owner(id, nodes, parent);
    if (who.telemetry) telemetry += bytes;
    if (who.jobwatch) add(byJobwatch, who.jobwatch, bytes);
  }
  const sorted = (map) => [...map].sort((a, b) => b[1] - a[1]);
  return { total, telemetry, byArea: sorted(byArea), byJobwatch: sorted(byJobwatch) };
}

/**
 * The package of the innermost frame with a script: a builtin's time or
 * allocation (a socket write, a JSON.stringify) belongs to its caller. The
 * garbage collector and V8's own work have none.
 */
function callerArea(id, nodes, parent) {
  for (let n = id; n !== undefined; n = parent.get(n)) {
    const { url } = nodes.get(n).callFrame;
    if (url) return area(url);
  }
  const name = nodes.get(id).callFrame.functionName;
  return name === '(garbage collector)' ? 'garbage collection' : '(V8, native)';
}

function markdown(mode, a, m, jobs) {
  const perJob = (us) => (us / jobs).toFixed(2);
  const bytes = (b) => (b / jobs).toFixed(0);
  const pct = (part, whole) => `${((100 * part) / whole).toFixed(1)}%`;
  const table = (title, entries, unit, format, whole) => [
    `| ${title} | ${unit} | share |`,
    '|---|---:|---:|',
    ...entries.map(([k, v]) => `| ${k} | ${format(v)} | ${pct(v, whole)} |`),
    '',
  ];
  const allocatedBy = new Map(m.byJobwatch);
  return [
    `## ${mode.label} (\`${mode.id}\`)`,
    '',
    `Busy CPU while ${jobs} jobs were added and processed: ${perJob(a.total)} µs/job, of which ` +
      `telemetry code and the OpenTelemetry calls it makes: ${perJob(a.telemetry)} µs/job; ` +
      `garbage collection: ${perJob(a.gc)} µs/job. Allocated (a second run, under the heap ` +
      `profiler): ${bytes(m.total)} bytes/job, of which telemetry code and the OpenTelemetry calls ` +
      `it makes: ${bytes(m.telemetry)} bytes/job.`,
    '',
    ...table('self time by package', a.byArea.slice(0, 14), 'µs/job', perJob, a.total),
    ...(a.byJobwatch.length
      ? [
          '| jobwatch function (with the OpenTelemetry calls it makes) | µs/job | bytes/job |',
          '|---|---:|---:|',
          ...a.byJobwatch
            .slice(0, TOP)
            .map(([k, us]) => `| ${k} | ${perJob(us)} | ${bytes(allocatedBy.get(k) ?? 0)} |`),
          '',
        ]
      : []),
    ...table('hottest functions (self)', a.self.slice(0, TOP), 'µs/job', perJob, a.total),
    ...table(
      'allocated by package (builtins charged to their caller)',
      m.byArea.slice(0, 10),
      'bytes/job',
      bytes,
      m.total,
    ),
  ].join('\n');
}

/** The groups the added-cost table sums packages into. */
function group(pkg) {
  if (pkg === 'jobwatch') return 'jobwatch (its own functions)';
  if (pkg.startsWith('@opentelemetry/'))
    return 'OpenTelemetry SDK and API (every @opentelemetry/* package)';
  if (
    ['bullmq', 'ioredis', 'msgpackr', 'denque', 'tslib', 'debug', 'cluster-key-slot'].includes(pkg)
  )
    return "BullMQ and ioredis (the job's own work, its socket writes included)";
  if (pkg === 'bullmq-otel' || pkg.startsWith('@appsignal/')) return 'the other instrumentation';
  return pkg;
}

/** A profile's CPU (µs) or bytes by group. */
function byGroup(map) {
  const out = new Map();
  for (const [pkg, v] of map) out.set(group(pkg), (out.get(group(pkg)) ?? 0) + v);
  return out;
}

/**
 * What `mode` adds over `base` per job, by group: CPU charged to the package
 * whose code ran (builtins to their caller), as the median over the rounds of
 * the difference to the same round's baseline, and the bytes allocated.
 */
function addedCost(mode, base, jobs) {
  const rounds = mode.cpu.map((cpu, i) => [byGroup(cpu.byCaller), byGroup(base.cpu[i].byCaller)]);
  const mem = [byGroup(new Map(mode.alloc.byArea)), byGroup(new Map(base.alloc.byArea))];
  const groups = [...new Set(rounds.flatMap(([m, b]) => [...m.keys(), ...b.keys()]))];
  const delta = ([m, b], g) => ((m.get(g) ?? 0) - (b.get(g) ?? 0)) / jobs;
  const rows = groups
    .map((g) => [g, median(rounds.map((pair) => delta(pair, g))), delta(mem, g)])
    .filter(([, us, b]) => Math.abs(us) >= 0.05 || Math.abs(b) >= 10)
    .sort((x, y) => y[1] - x[1]);
  const total = median(mode.cpu.map((cpu, i) => (cpu.total - base.cpu[i].total) / jobs));
  const bytes = (mode.alloc.total - base.alloc.total) / jobs;
  return [
    `### ${mode.mode.label} over ${base.mode.label}`,
    '',
    '| where | CPU µs/job added | bytes/job added |',
    '|---|---:|---:|',
    ...rows.map(([g, us, b]) => `| ${g} | ${us.toFixed(2)} | ${b.toFixed(0)} |`),
    `| **total** | **${total.toFixed(2)}** | **${bytes.toFixed(0)}** |`,
    '',
  ].join('\n');
}

/** `compareDir`: also offers the `<mode>@compare` twins (see withComparison). */
/**
 * `rounds` CPU-profiled runs of every mode, interleaved so each round's
 * baseline ran beside it, then one heap-profiled run each.
 */
export async function profile(ids, compareDir, rounds = 3) {
  const modes = withComparison(MODES, compareDir);
  if (compareDir) JOBWATCH_DIST.push(`${resolve(compareDir)}/dist/`);
  const dir = fileURLToPath(new URL('./results/profiles/', import.meta.url));
  mkdirSync(dir, { recursive: true });
  const redis = await startRedis({ core: CORES.redis });
  const otlp = await startReceiver();
  const selected = ids.split(',').map((id) => {
    const mode = modes.find((m) => m.id === id);
    if (!mode) throw new Error(`unknown mode ${id}`);
    return mode;
  });
  const run = async (mode, variable, extension) => {
    const file = join(dir, `${mode.id}.${extension}`);
    const { failure } = await runChild(mode, {
      redis,
      plan: FULL,
      extraEnv: { [variable]: file },
      core: CORES.node,
      timeoutMs: 300_000,
      otlp,
    });
    if (failure) throw new Error(`${mode.id}: ${failure}`);
    return JSON.parse(readFileSync(file, 'utf8'));
  };
  try {
    const profiled = new Map(
      selected.map((mode) => [
        mode.id,
        {
          mode,
          jobs:
            {
              api: FULL.apiJobs,
              floor: FULL.floorJobs,
              rate: Math.round(FULL.rate * FULL.rateSeconds),
            }[mode.workload] ?? FULL.jobs,
          cpu: [],
        },
      ]),
    );
    for (let round = 0; round < rounds; round++) {
      for (const mode of selected) {
        profiled.get(mode.id).cpu.push(analyze(await run(mode, 'BENCH_CPU_PROFILE', 'cpuprofile')));
      }
    }
    for (const mode of selected) {
      profiled.get(mode.id).alloc = analyzeAllocations(
        await run(mode, 'BENCH_ALLOC_PROFILE', 'heapprofile'),
      );
    }
    const added = [...profiled.values()]
      .filter((p) => p.mode.baseline !== p.mode.id && profiled.has(p.mode.baseline))
      .map((p) => addedCost(p, profiled.get(p.mode.baseline), p.jobs));
    // the detailed tables are of each mode's median run
    const sections = [...profiled.values()].map((p) => {
      const sorted = [...p.cpu].sort((a, b) => a.total - b.total);
      return markdown(p.mode, sorted[Math.floor((sorted.length - 1) / 2)], p.alloc, p.jobs);
    });
    const text = [
      `# CPU and allocation profile of the throughput phase\n\nCommand: \`${commandLine()}\`  `,
      `Machine: ${machine(await redis.version())}  \njobwatch: commit ${revision()}  `,
      `${rounds} CPU-profiled round(s) of every mode, interleaved, then one heap-profiled run each.\n`,
      ...(added.length
        ? [
            '## What each mode adds over its plain baseline\n',
            'From the profiles below: CPU charged to the package whose code ran (a builtin, such as a ' +
              "socket write or JSON.stringify, to its caller's package), the median over the rounds of " +
              "each round's difference to its baseline; allocated bytes the same way. Profiler overhead " +
              'inflates every figure a little. The jobwatch and OpenTelemetry rows count samples in their ' +
              "own code and hold from run to run; the others also carry the machine's noise. A jobwatch " +
              "function's bytes are what the heap profiler saw it (or what V8 inlined into it) allocate.\n",
            ...added,
          ]
        : []),
      ...sections,
    ].join('\n');
    process.stdout.write(text);
    writeFileSync(new URL('./results/profile.md', import.meta.url), text);
  } finally {
    otlp.stop();
    await redis.stop();
  }
}
