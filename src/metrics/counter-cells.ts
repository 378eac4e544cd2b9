// Counters that cost one addition per job. A synchronous OTel counter hashes
// its attributes on every add (about a microsecond); here each series is a
// plain number held by the caller, and an observable counter reports all of
// them when a reader collects. The exported data is the same monotonic sum.

import type { Attributes, Meter, MetricOptions } from '@opentelemetry/api';

export interface CounterCell {
  readonly attributes: Attributes;
  value: number;
}

export class CellCounter {
  private readonly cells: CounterCell[] = [];

  /** `settle`: work that may still add to the cells in this collection (awaited first). */
  constructor(meter: Meter, name: string, options: MetricOptions, settle?: () => Promise<void>) {
    meter.createObservableCounter(name, options).addCallback(async (result) => {
      if (settle) await settle();
      for (const cell of this.cells) result.observe(cell.value, cell.attributes);
    });
  }

  /** A new series, reported from now on (starting at 0, so rates see its first increase). */
  cell(attributes: Attributes): CounterCell {
    const cell = { attributes, value: 0 };
    this.cells.push(cell);
    return cell;
  }
}

/** `key`'s entry in `map`, created by `create`; past `limit` entries, new keys share `overflowKey`'s entry. */
export function boundedEntry<V>(
  map: Map<string, V>,
  key: string,
  limit: number,
  overflowKey: string,
  create: (key: string) => V,
): V {
  const found = map.get(key);
  if (found !== undefined) return found;
  const bounded = map.size < limit ? key : overflowKey;
  let entry = map.get(bounded);
  if (entry === undefined) {
    entry = create(bounded);
    map.set(bounded, entry);
  }
  return entry;
}
