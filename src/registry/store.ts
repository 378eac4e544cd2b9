// What the heartbeat writer and the fleet view need of a registry store, the
// one contract every backend implements (src/backends/*/registry-store.ts),
// checked by the same contract tests (test/backends). Every time a store
// returns is its own server's clock.

import type { InstanceFields, WrittenFields } from './entry.js';

/**
 * Upper bound on instances one fleet read keeps per registry (running, hung
 * and dead first, then the newest stopped ones), so a registry flooded by
 * deploy leftovers never makes a collection unbounded.
 */
export const MAX_INSTANCES_PER_REGISTRY = 10_000;

/** Instances per read call: each call stays well under a millisecond of store time. */
export const PAGE_SIZE = 100;

export interface RegistryRead {
  /** The store's time (ms) at the end of the read. */
  now: number;
  instances: InstanceFields[];
  /** Stopped entries left out because of MAX_INSTANCES_PER_REGISTRY (the oldest ones). */
  dropped: number;
  /** Ids of entries that are no jobwatch entry (overwritten, truncated): skipped, never fatal to a read. */
  malformed: string[];
}

/** Which fields a read returns: what verdicts and gauges need, or everything (CLI, reports). */
export type ReadDepth = 'verdicts' | 'all';

export interface RegistryStore {
  /** Writes one beat (or the final stopped status); resolves to the store's time of it. */
  writeBeat(fields: WrittenFields, retentionMs: number, stopped: boolean): Promise<number>;
  /**
   * Takes or renews the fleet-view lease for `holder` for `ttlMs`; false while
   * another holder has it. `takeOver`: a monitor's claim, which a process's yields to.
   */
  lease(holder: string, ttlMs: number, takeOver: boolean): Promise<boolean>;
  /** Gives the lease up at once if `holder` has it (a clean stop), so another takes over. */
  releaseLease(holder: string): Promise<void>;
  /**
   * The whole registry in bounded pages: running, hung and dead first, then
   * the newest stopped; entries past their retention are purged.
   */
  read(depth: ReadDepth): Promise<RegistryRead>;
}
