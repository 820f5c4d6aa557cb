import { InvalidOptionError } from './errors.js';

/** A duration: milliseconds as a number, or a string such as `'500ms'`, `'30s'`, `'1m'`, `'1h'`, `'1d'`. */
export type Duration = number | `${number}${DurationUnit}`;
type DurationUnit = 'ms' | 's' | 'm' | 'h' | 'd';

const UNIT_MS: Record<DurationUnit, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };
const PATTERN = /^(\d+(?:\.\d+)?)(ms|s|m|h|d)$/;
const ACCEPTED = "accepted: a whole number of milliseconds >= 1, or a string like '500ms', '30s', '1m', '1h', '1d'";

/** Parses a duration to whole milliseconds, throwing an `InvalidOptionError` naming `option`. */
export function parseDuration(value: unknown, option: string): number {
  let ms: number;
  if (typeof value === 'number') {
    ms = value;
  } else if (typeof value === 'string') {
    const match = PATTERN.exec(value);
    if (!match) throw new InvalidOptionError(option, value, ACCEPTED);
    ms = Number(match[1]) * UNIT_MS[match[2] as DurationUnit];
  } else {
    throw new InvalidOptionError(option, value, ACCEPTED);
  }
  if (!Number.isSafeInteger(ms) || ms < 1) throw new InvalidOptionError(option, value, ACCEPTED);
  return ms;
}

/** The shortest label for a duration: 60000 -> '1m', 1500 -> '1500ms'. */
export function formatDuration(ms: number): string {
  for (const unit of ['d', 'h', 'm', 's'] as const) {
    if (ms % UNIT_MS[unit] === 0) return `${ms / UNIT_MS[unit]}${unit}`;
  }
  return `${ms}ms`;
}
