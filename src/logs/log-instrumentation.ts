// Trace ids (and the job, and the request id) on the app's own log records,
// with no code change, for the loggers Node teams use. Each logger is patched
// only if the app loads it, in the style of the opentelemetry-js-contrib log
// instrumentations, and the record gets the fields of correlation.ts:
//
//   pino     its factory: a `mixin` (the app's own mixin runs too, and wins)
//   winston  Logger.prototype.write (lib/winston/logger.js): the info object
//   bunyan   Logger.prototype._emit: the record
//
// Fields the app already set on a record are never overwritten. Outside a
// trace nothing is added; a logger's own output format decides the rest.

import { guard, ignoreInternalError } from '../log.js';
import {
  InstrumentationBase,
  InstrumentationNodeModuleDefinition,
  InstrumentationNodeModuleFile,
  isWrapped,
} from '../otel-sdk.js';
import { VERSION } from '../version.js';
import { addCorrelation, correlationFields } from './correlation.js';

type Method = (this: any, ...args: any[]) => any;
type Mixin = (this: unknown, ...args: unknown[]) => object | undefined;
interface WithPrototype {
  prototype: Record<string, Method>;
}

const PINO = ['>=7 <11'];
const WINSTON = ['>=3 <4'];
const BUNYAN = ['>=1 <2'];

/** An ES module's namespace, as import-in-the-middle hands it to a patch. */
const isNamespace = (exports: object) =>
  (exports as { [Symbol.toStringTag]?: unknown })[Symbol.toStringTag] === 'Module';

export class LogCorrelation extends InstrumentationBase {
  constructor() {
    super('jobwatch-logs', VERSION, {});
  }

  protected init() {
    return [this.pino(), this.winston(), this.bunyan()];
  }

  private pino() {
    return new InstrumentationNodeModuleDefinition(
      'pino',
      PINO,
      (exports: any) => guard('logs.pino', () => withPinoMixin(exports)) ?? exports,
    );
  }

  private winston() {
    const file = new InstrumentationNodeModuleFile(
      'winston/lib/winston/logger.js',
      WINSTON,
      (exports: WithPrototype) => this.patchMethod(exports, 'write', 0),
      (exports: WithPrototype) => this.unpatchMethod(exports, 'write'),
    );
    return new InstrumentationNodeModuleDefinition('winston', WINSTON, undefined, undefined, [
      file,
    ]);
  }

  private bunyan() {
    return new InstrumentationNodeModuleDefinition(
      'bunyan',
      BUNYAN,
      (exports: WithPrototype & { default?: WithPrototype }) =>
        this.patchMethod(isNamespace(exports) ? exports.default! : exports, '_emit', 0) && exports,
      (exports: WithPrototype & { default?: WithPrototype }) =>
        this.unpatchMethod(isNamespace(exports) ? exports.default! : exports, '_emit') && exports,
    );
  }

  /** Wraps `Class.prototype[method]` to add the fields to its argument number `arg` (a record). */
  private patchMethod<T extends WithPrototype>(exports: T, method: string, arg: number): T {
    guard(`logs.${method}`, () => {
      const proto = exports.prototype;
      if (typeof proto?.[method] !== 'function') return;
      if (isWrapped(proto[method])) this._unwrap(proto, method);
      this._wrap(
        proto,
        method,
        (original: Method) =>
          function correlated(this: unknown, ...args: unknown[]) {
            const record = args[arg];
            if (record !== null && typeof record === 'object') {
              try {
                addCorrelation(record as Record<string, unknown>);
              } catch (err) {
                ignoreInternalError('logs.record', err); // the record is written as it was
              }
            }
            return original.apply(this, args);
          },
      );
    });
    return exports;
  }

  private unpatchMethod<T extends WithPrototype>(exports: T, method: string): T {
    if (isWrapped(exports.prototype?.[method])) this._unwrap(exports.prototype, method);
    return exports;
  }
}

/**
 * pino's module is its factory, with the rest of its API as properties (and
 * as `default` and `pino` of itself). The factory is replaced by one that adds
 * a mixin; child loggers inherit it.
 */
function withPinoMixin(exports: any): any {
  if (!isNamespace(exports)) return correlatedPino(exports);
  const factory = correlatedPino(exports.default);
  exports.default = factory;
  exports.pino = factory;
  return exports;
}

/** The factory, wrapped, with the module's API (pino.destination, …) on it as on the original. */
function correlatedPino(original: any): Method {
  const factory = correlatedFactory(original) as any;
  for (const key of Object.keys(original)) factory[key] = original[key];
  factory.default = factory;
  factory.pino = factory;
  return factory;
}

function correlatedFactory(original: Method): Method {
  return function pino(this: unknown, ...args: unknown[]) {
    const first = args[0];
    const isOptions =
      first !== null &&
      typeof first === 'object' &&
      typeof (first as { write?: unknown }).write !== 'function';
    const options = isOptions ? (first as { mixin?: Mixin }) : {};
    const merged = { ...options, mixin: correlatedMixin(options.mixin) };
    if (isOptions) args[0] = merged;
    else args.unshift(merged); // a destination (stream or path), or nothing
    return original.apply(this, args);
  };
}

function correlatedMixin(own: Mixin | undefined): Mixin {
  return function mixin(this: unknown, ...args: unknown[]) {
    const theirs = own?.apply(this, args);
    const ours = correlationFields();
    return ours === undefined ? (theirs ?? {}) : { ...ours, ...theirs };
  };
}
