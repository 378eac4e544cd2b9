// How much work each kind of run does.

/** A full benchmark run of one mode. */
export const FULL = {
  warmup: 3000, // untimed jobs through the same queue and worker before the throughput timing
  jobs: 20000,
  chunk: 500, // jobs per addBulk
  concurrency: 50,
  addWarmup: 2000, // sequential Queue.add calls before the timed ones: the p99 of fewer mostly measured warm-up
  adds: 10000,
  pickupWarmup: 50,
  pickups: 300,
  apiWarmup: 1000, // the API-style workload (api-workload.mjs)
  apiJobs: 10000,
  apiClients: 50,
  floorWarmup: 3000, // the SDK floor (floor-workload.mjs)
  floorJobs: 20000,
  rate: 2000, // the fixed-rate workload (rate-workload.mjs): jobs per second
  rateWarmupSeconds: 2,
  rateSeconds: 10,
};

/** Every mode once, a few hundred jobs: CI's check that the benchmark still runs. */
export const SMOKE = {
  warmup: 50,
  jobs: 300,
  chunk: 100,
  concurrency: 50,
  addWarmup: 10,
  adds: 50,
  pickupWarmup: 5,
  pickups: 20,
  apiWarmup: 20,
  apiJobs: 200,
  apiClients: 50,
  floorWarmup: 50,
  floorJobs: 300,
  rate: 500,
  rateWarmupSeconds: 0.2,
  rateSeconds: 0.6,
};

/** The memory soak. */
export const SOAK = {
  soakJobs: 200_000,
  sampleEvery: 10_000,
  warmupJobs: 40_000, // RSS settles (V8 and malloc arenas grow to their working size) by about here
  chunk: 500,
  concurrency: 50,
};
