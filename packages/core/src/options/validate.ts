import { ErrorCodes, InvalidOptionError } from '../errors.js';
import { peerOptionHint } from './peer-options.js';

/**
 * Rejects option names outside `known`, so a typo fails loudly instead of silently using a
 * default. A limiter option under another library's name (`windowMs`, `points`) is told
 * tollgate's equivalent.
 */
export function assertKnownOptions(options: object, known: ReadonlySet<string>, where: string): void {
  for (const name of Object.keys(options)) {
    if (!known.has(name)) {
      const hint = peerOptionHint(name, where);
      throw new InvalidOptionError(
        name,
        (options as Record<string, unknown>)[name],
        hint === undefined
          ? `${where} accepts only: ${[...known].join(', ')}`
          : `${hint} (${where} does not take \`${name}\`; see docs/migrating.md)`,
        ErrorCodes.UNKNOWN_OPTION,
      );
    }
  }
}

/**
 * A plain options object (or undefined, read as `{}`), returned as `ownOptions` copies it: read
 * options from the result only, so a polluted `Object.prototype` can never supply one.
 */
export function assertOptionsObject(options: unknown, where: string): Record<string, unknown> {
  if (options === undefined) return Object.create(null) as Record<string, unknown>;
  if (typeof options !== 'object' || options === null || Array.isArray(options)) {
    throw new InvalidOptionError('options', options, `${where} takes an options object`);
  }
  return ownOptions(options);
}

/**
 * A null-prototype copy of an object's own enumerable properties. A rate limiter is a security
 * control: with `Object.prototype.burst = 1e6` (a prototype-pollution bug elsewhere in the app),
 * `options.burst` on the caller's object would read 1e6. On the copy, a missing option is
 * `undefined` whatever the prototype holds.
 */
export function ownOptions(value: object): Record<string, unknown> {
  const copy = Object.create(null) as Record<string, unknown>;
  for (const name of Object.keys(value)) copy[name] = (value as Record<string, unknown>)[name];
  return copy;
}

/** A whole number >= 1, else an InvalidOptionError naming `option` and the value. */
export function positiveInteger(value: unknown, option: string): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 1) {
    throw new InvalidOptionError(option, value, 'accepted: a whole number >= 1');
  }
  return value;
}

export function oneOf<T extends string>(value: unknown, option: string, accepted: readonly T[]): T {
  if (typeof value !== 'string' || !(accepted as readonly string[]).includes(value)) {
    throw new InvalidOptionError(option, value, `accepted: ${accepted.map((a) => `'${a}'`).join(', ')}`);
  }
  return value as T;
}

export function optionalFunction<F>(value: unknown, option: string): F | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'function') throw new InvalidOptionError(option, value, 'accepted: a function');
  return value as F;
}

/**
 * The longest delay Node's timers honour: setTimeout/setInterval clamp anything larger to 1 ms
 * (with a TimeoutOverflowWarning), which would turn a long timeout into an immediate one.
 */
export const MAX_TIMER_MS = 2 ** 31 - 1;

/** A duration in whole milliseconds that becomes a timer: 1 to 2^31-1 (about 24.8 days). */
export function timerMs(value: unknown, option: string): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 1 || value > MAX_TIMER_MS) {
    throw new InvalidOptionError(option, value, `accepted: a whole number of milliseconds from 1 to ${MAX_TIMER_MS}`);
  }
  return value;
}
