// The contexts jobwatch derives per job (producer span, process span, chain
// depth, suppressed tracing, the extracted producer context) as one small
// object each. The API's own Context copies its whole Map and makes three
// closures on every setValue: five allocations per context, several contexts
// per job. A LightContext holds one key over its parent and looks keys up
// through the chain, which stays a few layers deep: each job's contexts start
// from a fixed base (the caller's context or the root), never from another
// job's.

import { type Context, ROOT_CONTEXT } from '@opentelemetry/api';

const DELETED = Symbol('jobwatch.deleted');
const NO_KEY = Symbol('jobwatch.no-key');

class LightContext implements Context {
  constructor(
    private readonly parent: Context,
    private readonly key: symbol,
    private readonly value: unknown,
  ) {}

  getValue(key: symbol): unknown {
    let ctx: Context = this;
    while (ctx instanceof LightContext) {
      if (ctx.key === key) return ctx.value === DELETED ? undefined : ctx.value;
      ctx = ctx.parent;
    }
    return ctx.getValue(key);
  }

  setValue(key: symbol, value: unknown): Context {
    return new LightContext(this, key, value);
  }

  deleteValue(key: symbol): Context {
    return new LightContext(this, key, DELETED);
  }
}

/** The root context, with values set on it (and on what derives from it) held the light way. */
export const LIGHT_ROOT: Context = new LightContext(ROOT_CONTEXT, NO_KEY, undefined);

/** `ctx` with the same values, from which derived contexts are light. */
export function lighten(ctx: Context): Context {
  return ctx instanceof LightContext ? ctx : new LightContext(ctx, NO_KEY, undefined);
}
