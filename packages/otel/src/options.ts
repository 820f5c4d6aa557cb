import { ErrorCodes, InvalidOptionError } from '@tollgate/core';

/** Rejects option names outside `known`, so a typo fails loudly instead of silently using a default. */
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
 * A plain options object, copied to a null-prototype object: a polluted `Object.prototype`
 * can never supply an option.
 */
export function assertOptionsObject(options: unknown, where: string): Record<string, unknown> {
  if (typeof options !== 'object' || options === null || Array.isArray(options)) {
    throw new InvalidOptionError('options', options, `${where} takes an options object`);
  }
  const copy = Object.create(null) as Record<string, unknown>;
  for (const name of Object.keys(options)) copy[name] = (options as Record<string, unknown>)[name];
  return copy;
}

/** The longest delay Node's timers honour: larger values are clamped to 1 ms. */
const MAX_TIMER_MS = 2 ** 31 - 1;

/** A duration in whole milliseconds that becomes a timer: 1 to 2^31-1. */
export function timerMs(value: unknown, option: string): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 1 || value > MAX_TIMER_MS) {
    throw new InvalidOptionError(option, value, `accepted: a whole number of milliseconds from 1 to ${MAX_TIMER_MS}`);
  }
  return value;
}
