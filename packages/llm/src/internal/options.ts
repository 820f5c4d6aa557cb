import { ErrorCodes, InvalidOptionError, type Logger } from '@tollgate/core';

// The option checks @tollgate/core makes of its own options, with the same codes and messages.
// Core does not export them (internals); see the package README's note on what it uses of core.

/** Every key of `options` is one of `known`, else TOLLGATE_UNKNOWN_OPTION naming it. */
export function assertKnownOptions(options: object, known: ReadonlySet<string>, where: string): void {
  for (const name of Object.keys(options)) {
    if (!known.has(name)) {
      throw new InvalidOptionError(
        name,
        (options as Record<string, unknown>)[name],
        `${where} accepts only: ${[...known].join(', ')}`,
        ErrorCodes.UNKNOWN_OPTION,
      );
    }
  }
}

/**
 * A plain options object (or undefined, read as `{}`), copied to a null-prototype object: a
 * polluted `Object.prototype` can never supply an option.
 */
export function assertOptionsObject(options: unknown, where: string): Record<string, unknown> {
  const copy = Object.create(null) as Record<string, unknown>;
  if (options === undefined) return copy;
  if (typeof options !== 'object' || options === null || Array.isArray(options)) {
    throw new InvalidOptionError('options', options, `${where} takes an options object`);
  }
  for (const name of Object.keys(options)) copy[name] = (options as Record<string, unknown>)[name];
  return copy;
}

export function positiveInteger(value: unknown, option: string): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 1) {
    throw new InvalidOptionError(option, value, 'accepted: a whole number >= 1');
  }
  return value;
}

/** A bucket size or per-minute count: a whole number from 1 to 999999999999, as core's policies. */
export function tokenCount(value: unknown, option: string): number {
  const n = positiveInteger(value, option);
  if (n > 999_999_999_999)
    throw new InvalidOptionError(option, value, 'accepted: a whole number from 1 to 999999999999');
  return n;
}

/** The longest timer Node honours; a longer one fires at once. */
const MAX_TIMER_MS = 2 ** 31 - 1;

export function timerMs(value: unknown, option: string): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 1 || value > MAX_TIMER_MS) {
    throw new InvalidOptionError(option, value, `accepted: a whole number of milliseconds from 1 to ${MAX_TIMER_MS}`);
  }
  return value;
}

export function isLogger(value: unknown): value is Logger {
  if (typeof value !== 'object' || value === null) return false;
  const v = value as Record<string, unknown>;
  return typeof v.info === 'function' && typeof v.warn === 'function' && typeof v.error === 'function';
}
