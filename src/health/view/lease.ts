// The fleet-view lease: registry-derived verdicts (other processes' dead, hung
// and stopped instances, the per-name roll-up) come from ONE process per
// registry, the holder of a lease in the store, renewed every beat (TTL two
// beats), so a survivor takes over within about two intervals of the holder's
// death. `jobwatch monitor` claims it over any process. Non-holders pay one
// O(1) lease call per interval and registry.

import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import type { Registry } from '../../backends/backend.js';
import type { Backends } from '../../backends/router.js';
import { guard } from '../../log.js';
import { withTimeout } from '../../timeout.js';
import type { StoreFailures } from '../failures.js';

export interface LeaseSettings {
  intervalMs: number;
  timeoutMs: number;
  /** `jobwatch monitor`: its claim wins over any process's. */
  monitor: boolean;
}

export class Lease {
  /** This process's name on the lease. */
  readonly holder: string;
  private readonly held = new Set<string>();
  private timer: NodeJS.Timeout | undefined;

  /** `changed`: called when this process starts or stops holding some registry's lease. */
  constructor(
    private readonly backends: Backends,
    private readonly failures: StoreFailures,
    private readonly settings: LeaseSettings,
    private readonly changed: () => void,
  ) {
    this.holder = `${settings.monitor ? 'monitor:' : ''}${hostname()}:${process.pid}:${randomUUID().slice(0, 8)}`;
  }

  /** Takes part in the lease, once now and then every interval. */
  start(): void {
    if (this.timer) return;
    const renew = () => guard('fleet lease', () => void this.renew());
    this.timer = setInterval(renew, this.settings.intervalMs);
    this.timer.unref();
    // A registry learnt later (the app's first Queue or Worker) is claimed at once, not a beat later.
    this.backends.onRegistry(renew);
    renew();
  }

  holds(registry: Registry): boolean {
    return this.held.has(registry.key);
  }

  /** True while this process exports the fleet view of at least one registry. */
  get leading(): boolean {
    return this.held.size > 0;
  }

  /** Stops renewing and gives held leases up, so another process takes over at its next beat. */
  async close(): Promise<void> {
    clearInterval(this.timer);
    this.timer = undefined;
    const held = this.backends.registries().filter((r) => this.held.has(r.key));
    this.held.clear();
    await Promise.all(
      held.map(async (registry) => {
        const handle = registry.handle();
        if (!handle) return;
        await withTimeout(
          handle.store.releaseLease(this.holder),
          this.settings.timeoutMs,
          'releasing the fleet-view lease',
        ).catch(() => undefined); // it expires on its own within two beats
      }),
    );
  }

  private async renew(): Promise<void> {
    const ttl = 2 * this.settings.intervalMs;
    const registries = this.backends.registries().filter((r) => r.unavailable === undefined);
    await Promise.all(registries.map((registry) => this.renewOne(registry, ttl)));
  }

  private async renewOne(registry: Registry, ttl: number): Promise<void> {
    const handle = registry.handle();
    if (!handle) return;
    let holds = false;
    try {
      holds = await withTimeout(
        handle.store.lease(this.holder, ttl, this.settings.monitor),
        this.settings.timeoutMs,
        'the fleet-view lease',
      );
    } catch (err) {
      // Unknown whether it still holds: the lease expires in the store on its own if not.
      // A call that raced the app's clean close says nothing.
      if (registry.handle()) this.failures.record(registry, err, 'the fleet-view lease');
      return;
    }
    if (holds === this.held.has(registry.key)) return;
    if (holds) this.held.add(registry.key);
    else this.held.delete(registry.key);
    this.changed();
  }
}
