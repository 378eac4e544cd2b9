// What the heartbeat writer and the fleet view need of a registry store. The
// Redis store (redis-store.ts) is one implementation; a store for BullMQ 6's
// PostgreSQL backend keeps the same entries and is judged by the same rule
// (keys.ts). Every time a store returns is its own server's clock.

import type { InstanceFields, WrittenFields } from './keys.js';

export interface RegistryRead {
  /** The store's time (ms) at the end of the read. */
  now: number;
  instances: InstanceFields[];
  /** Stopped entries left out because of MAX_INSTANCES_PER_PREFIX (the oldest ones). */
  dropped: number;
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
  /** The whole registry in bounded pages: running, hung and dead first, then the newest stopped. */
  read(depth: ReadDepth): Promise<RegistryRead>;
}
