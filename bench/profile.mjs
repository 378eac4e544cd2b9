// `node bench/run.mjs --profile plain6,jobwatch,…`: one full-size run of each mode
// with the CPU profiler on during the timed throughput phase only, then where
// that CPU went per job: by package, the hottest functions, and jobwatch's own
// functions (mapped back to src/ file:line through the source maps), so the
// cost on the per-job path can be found and removed.
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { SourceMap } from 'node:module';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { CORES, commandLine, machine, revision } from './machine.mjs';
import { MODES, withComparison } from './modes.mjs';
import { FULL } from './plans.mjs';
import { startRedis } from './redis-server.mjs';
import { runChild } from './run-mode.mjs';

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
    byJobwatch: sorted(byJobwatch),
  };
}

function markdown(mode, a, jobs) {
  const perJob = (us) => (us / jobs).toFixed(2);
  const pct = (us) => `${((100 * us) / a.total).toFixed(1)}%`;
  const rows = (entries) => entries.map(([k, us]) => `| ${k} | ${perJob(us)} | ${pct(us)} |`);
  const table = (title, entries) => [
    `| ${title} | µs/job | share |`,
    '|---|---:|---:|',
    ...rows(entries),
    '',
  ];
  return [
    `## ${mode.label} (\`${mode.id}\`)`,
    '',
    `Busy CPU while ${jobs} jobs were added and processed: ${perJob(a.total)} µs/job, of which ` +
      `telemetry code and the OpenTelemetry calls it makes: ${perJob(a.telemetry)} µs/job; ` +
      `garbage collection (not attributable): ${perJob(a.gc)} µs/job.`,
    '',
    ...table('self time by package', a.byArea.slice(0, 14)),
    ...(a.byJobwatch.length
      ? table(
          'jobwatch function (with the OpenTelemetry calls it makes)',
          a.byJobwatch.slice(0, TOP),
        )
      : []),
    ...table('hottest functions (self)', a.self.slice(0, TOP)),
  ].join('\n');
}

/** `compareDir`: also offers the `<mode>@compare` twins (see withComparison). */
export async function profile(ids, compareDir) {
  const modes = withComparison(MODES, compareDir);
  if (compareDir) JOBWATCH_DIST.push(`${resolve(compareDir)}/dist/`);
  const dir = fileURLToPath(new URL('./results/profiles/', import.meta.url));
  mkdirSync(dir, { recursive: true });
  const redis = await startRedis({ core: CORES.redis });
  const sections = [];
  try {
    for (const id of ids.split(',')) {
      const mode = modes.find((m) => m.id === id);
      if (!mode) throw new Error(`unknown mode ${id}`);
      const file = join(dir, `${id}.cpuprofile`);
      const { failure } = await runChild(mode, {
        redis,
        plan: FULL,
        extraEnv: { BENCH_CPU_PROFILE: file },
        core: CORES.node,
        timeoutMs: 300_000,
      });
      if (failure) throw new Error(`${id}: ${failure}`);
      const analysis = analyze(JSON.parse(readFileSync(file, 'utf8')));
      sections.push(
        markdown(
          mode,
          analysis,
          { api: FULL.apiJobs, floor: FULL.floorJobs }[mode.workload] ?? FULL.jobs,
        ),
      );
    }
    const text =
      `# CPU profile of the throughput phase\n\nCommand: \`${commandLine()}\`  \n` +
      `Machine: ${machine(await redis.version())}  \njobwatch: commit ${revision()}\n\n${sections.join('\n')}`;
    process.stdout.write(text);
    writeFileSync(new URL('./results/profile.md', import.meta.url), text);
  } finally {
    await redis.stop();
  }
}
