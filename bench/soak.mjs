// `npm run bench -- --soak`: 200,000 jobs through jobwatch (everything on) in one
// process, memory sampled every 10,000 jobs; RSS must stay flat after warm-up.
import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { CORES, commandLine, machine, pinning, revision } from './machine.mjs';
import { selectModes } from './modes.mjs';
import { SOAK } from './plans.mjs';
import { startRedis } from './redis-server.mjs';
import { runChild, startReceiver } from './run-mode.mjs';

const SCRIPT = fileURLToPath(new URL('./soak-workload.mjs', import.meta.url));
const LIMIT_MB = 10;

/** Growth from the first sample after warm-up to the last. */
function growth(samples, warmupJobs) {
  const from = samples.find((s) => s.jobs >= warmupJobs) ?? samples[0];
  const to = samples.at(-1);
  const peak = Math.max(...samples.filter((s) => s.jobs >= from.jobs).map((s) => s.rssMB));
  return {
    from: from.jobs,
    rssMB: to.rssMB - from.rssMB,
    peakRssMB: peak - from.rssMB,
    heapMB: to.heapMB - from.heapMB,
  };
}

function markdown(runs, meta) {
  const { plan } = meta;
  const lines = [
    '# jobwatch soak',
    '',
    `Command: \`${meta.command}\`  `,
    `Machine: ${meta.machine}  `,
    `jobwatch: commit ${revision()}  `,
    `${plan.soakJobs} jobs, Worker concurrency ${plan.concurrency}; 5% of jobs fail once and are retried, 1% fail for good, and every 10,000th blocks the event loop past its 1 s lock so that it and the jobs running beside it stall; ` +
      `memory sampled after a full GC every ${plan.sampleEvery} jobs; growth measured from ${plan.warmupJobs} jobs on. ${meta.pinning}`,
    '',
    '| mode | RSS growth MB | peak RSS above warm-up MB | heap growth MB | jobs finished | failed attempts | stalls | spans | verdict |',
    '|---|---:|---:|---:|---:|---:|---:|---:|---|',
  ];
  for (const r of runs) {
    if (r.failure) {
      lines.push(
        `| ${r.mode.label} | – | – | – | – | failed: ${r.failure.replaceAll('\n', ' ')} |`,
      );
      continue;
    }
    const g = growth(r.result.samples, plan.warmupJobs);
    const flat = g.rssMB < LIMIT_MB && r.result.finished >= r.result.expected;
    lines.push(
      `| ${r.mode.label} | ${g.rssMB.toFixed(1)} | ${g.peakRssMB.toFixed(1)} | ${g.heapMB.toFixed(1)} | ` +
        `${r.result.finished}/${r.result.expected} | ${r.result.counts.failedAttempts} | ${r.result.counts.stalled} | ` +
        `${r.result.spans?.total ?? 0} | ${flat ? `flat (< ${LIMIT_MB} MB)` : 'GROWS'} |`,
    );
  }
  lines.push(
    '',
    '## Samples (RSS / heap MB)',
    '',
    `| jobs | ${runs.map((r) => r.mode.id).join(' | ')} |`,
  );
  lines.push(`|---:|${runs.map(() => '---:').join('|')}|`);
  const rows = runs.find((r) => r.result)?.result.samples.map((s) => s.jobs) ?? [];
  for (const [i, jobs] of rows.entries()) {
    const cells = runs.map((r) => {
      const s = r.result?.samples[i];
      return s ? `${s.rssMB.toFixed(1)} / ${s.heapMB.toFixed(1)}` : '–';
    });
    lines.push(`| ${jobs} | ${cells.join(' | ')} |`);
  }
  return `${lines.join('\n')}\n`;
}

export async function soak({ modes: ids = 'jobwatch', jobs, resultsDir }) {
  const plan = { ...SOAK, ...(jobs ? { soakJobs: Number(jobs) } : {}) };
  // The baseline comes along, so BullMQ's own growth can be told from jobwatch's.
  const modes = selectModes(ids);
  const redis = await startRedis({ core: CORES.redis });
  const runs = [];
  const meta = {
    command: commandLine(),
    machine: machine(await redis.version()),
    pinning: pinning(),
    plan,
  };
  const otlp = await startReceiver();
  try {
    for (const mode of modes) {
      console.error(`[soak] ${mode.id}: ${plan.soakJobs} jobs`);
      const run = await runChild(mode, {
        script: SCRIPT,
        redis,
        plan,
        nodeArgs: ['--expose-gc'],
        core: CORES.node,
        timeoutMs: 600_000,
        otlp,
      });
      runs.push({ mode, ...run });
    }
  } finally {
    otlp.stop();
    await redis.stop();
  }
  const table = markdown(runs, meta);
  process.stdout.write(table);
  writeFileSync(new URL('soak.md', resultsDir), table);
  writeFileSync(new URL('soak.json', resultsDir), JSON.stringify(runs, null, 2));
  if (runs.some((r) => r.failure)) process.exitCode = 1;
}
