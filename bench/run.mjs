// The benchmark orchestrator: `npm run bench` (full), `node bench/run.mjs --smoke`
// (every mode once with a few hundred jobs, for CI), `--soak` (memory over 200k
// jobs, see soak.mjs), `--profile <modes>` (CPU- and heap-profiled runs, see profile.mjs)
// `--compare <checkout>` (every jobwatch mode also with that checkout's
// dist/, in the same rounds: before/after a change) and `--fleet` (worker
// health at fleet scale, see fleet.mjs).
import { mkdirSync, writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { CORES, commandLine, machine, pinning, revision } from './machine.mjs';
import { selectModes, withComparison } from './modes.mjs';
import { FULL, SMOKE } from './plans.mjs';
import { startRedis } from './redis-server.mjs';
import { markdown, summarize } from './report.mjs';
import { runMode, startReceiver } from './run-mode.mjs';

const RESULTS = new URL('./results/', import.meta.url);

const { values: opts } = parseArgs({
  options: {
    smoke: { type: 'boolean', default: false },
    soak: { type: 'boolean', default: false },
    profile: { type: 'string' },
    rounds: { type: 'string' },
    modes: { type: 'string' },
    jobs: { type: 'string' },
    json: { type: 'string' },
    compare: { type: 'string' },
    fleet: { type: 'boolean', default: false },
  },
});

async function bench() {
  const plan = { ...(opts.smoke ? SMOKE : FULL) };
  if (opts.jobs) plan.jobs = Number(opts.jobs);
  const rounds = Number(opts.rounds ?? (opts.smoke ? 1 : 5));
  const modes = withComparison(selectModes(opts.modes), opts.compare);
  const redis = await startRedis({ core: CORES.redis });
  const otlp = await startReceiver();
  const results = [];
  try {
    for (let round = 1; round <= rounds; round++) {
      const byMode = {};
      for (const mode of modes) {
        const run = await runMode(mode, {
          redis,
          plan,
          core: CORES.node,
          timeoutMs: opts.smoke ? 60_000 : 180_000,
          otlp,
        });
        byMode[mode.id] = run;
        log(round, rounds, mode, run);
      }
      results.push(byMode);
    }
    const meta = {
      command: commandLine(),
      machine: machine(await redis.version()),
      revision: revision(),
      date: new Date().toISOString().slice(0, 16).replace('T', ' '),
      rounds,
      plan,
      pinning: pinning(),
    };
    return { meta, modes, results };
  } finally {
    otlp.stop();
    await redis.stop();
  }
}

function log(round, rounds, mode, run) {
  const figures =
    run.status === 'failed'
      ? run.problems[0]
      : `${run.throughput.jobsPerSec.toFixed(0)} jobs/s, ${run.throughput.cpuUsPerJob.toFixed(0)} µs CPU/job, ` +
        `${run.throughput.redis?.commandsPerJob.toFixed(2) ?? '–'} Redis cmds/job, spans ${run.spans?.total ?? 0}`;
  console.error(`[bench] round ${round}/${rounds} ${mode.id}: ${run.status}: ${figures}`);
  for (const p of run.status === 'invalid' ? run.problems : []) console.error(`[bench]   ${p}`);
}

async function main() {
  if (opts.soak) {
    return (await import('./soak.mjs')).soak({
      modes: opts.modes,
      jobs: opts.jobs,
      resultsDir: RESULTS,
    });
  }
  if (opts.fleet) {
    const table = await (await import('./fleet.mjs')).fleet();
    mkdirSync(RESULTS, { recursive: true });
    return writeFileSync(new URL('fleet.md', RESULTS), table);
  }
  if (opts.profile)
    return (await import('./profile.mjs')).profile(
      opts.profile,
      opts.compare,
      Number(opts.rounds ?? 3),
    );
  const { meta, modes, results } = await bench();
  const summaries = summarize(modes, results);
  const table = markdown(summaries, meta);
  process.stdout.write(table);
  mkdirSync(RESULTS, { recursive: true });
  const json = JSON.stringify({ meta, results }, null, 2);
  if (opts.json) writeFileSync(opts.json, json);
  // Only a run of every mode replaces the published table.
  if (!opts.smoke && !opts.modes) {
    writeFileSync(new URL('latest.json', RESULTS), json);
    writeFileSync(new URL('latest.md', RESULTS), table);
  }
  const broken = summaries.filter((s) => s.ok < s.runs);
  if (broken.length) {
    console.error(
      `[bench] modes with failed or invalid runs: ${broken.map((s) => s.mode.id).join(', ')}`,
    );
    process.exitCode = 1;
  }
}

await main();
