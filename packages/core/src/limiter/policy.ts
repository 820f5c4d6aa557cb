import { type Duration, formatDuration, parseDuration } from '../duration.js';
import { InvalidOptionError } from '../errors.js';
import { assertKnownOptions, positiveInteger } from '../options/validate.js';
import { policyId } from '../stores/bucket-codec.js';
import type { Policy } from './policy-types.js';

/** A validated policy (its shape lives in policy-types.ts, outside the import graph of errors). */
export type { Policy };

/**
 * The largest `max` and `burst`: 12 digits. Token counts stay exact doubles with room for
 * fractions, and a header's `q`, which a window that is not a whole number of seconds scales by
 * up to 1000, stays within a Structured Field integer's 15 digits.
 */
export const MAX_TOKENS = 999_999_999_999;

/**
 * The longest window, and the longest a bucket may take to refill from empty
 * (`burst × window / max`): 2^40 ms, about 34.8 years. A double holds a bucket's tokens to 1 part
 * in 2^53 of its capacity, so within this bound even the refill of a single millisecond is kept to
 * 1 part in 8000 (it is never lost to rounding), every wait is a safe integer of milliseconds, and
 * every header value a valid Structured Field integer (`w`, a window stretched to whole seconds,
 * is at most the window's milliseconds).
 */
export const MAX_FILL_MS = 2 ** 40;

/** One limit as the caller writes it: `max` per `window`, with an optional larger `burst`. */
export interface PolicyOptions {
  /** Tokens added per `window` (the sustained rate): a whole number from 1 to 999,999,999,999. */
  max: number;
  /**
   * Milliseconds, or `'500ms' | '30s' | '1m' | '1h' | '1d'`: at most 2^40 ms (1,099,511,627,776,
   * about 34.8 years), and a bucket must refill from empty within as long: `burst × window / max`
   * at most 2^40 ms too.
   */
  window: Duration;
  /** Bucket capacity; defaults to `max`. A whole number from 1 to 999,999,999,999. */
  burst?: number;
}

const POLICY_OPTIONS = new Set(['max', 'window', 'burst']);

export function createPolicy(options: PolicyOptions, path = ''): Policy {
  if (typeof options !== 'object' || options === null) {
    throw new InvalidOptionError(path || 'policy', options, 'accepted: an object { max, window, burst? }');
  }
  assertKnownOptions(options, POLICY_OPTIONS, path ? `a policy (${path})` : 'a policy');
  const max = tokenCount(options.max, `${path}max`);
  const windowMs = parseDuration(options.window, `${path}window`);
  const capacity = options.burst === undefined ? max : tokenCount(options.burst, `${path}burst`);
  const ratePerMs = max / windowMs;
  assertRefillsInTime(options, path, windowMs, capacity / ratePerMs);
  const label = `${max}-per-${formatDuration(windowMs)}`;
  return Object.freeze({
    max,
    windowMs,
    capacity,
    ratePerMs,
    id: policyId({ max, windowMs, capacity }),
    label: capacity === max ? label : `${label}-burst-${capacity}`,
  });
}

/** A bucket size or per-window count: a whole number from 1 to `MAX_TOKENS`. */
export function tokenCount(value: unknown, option: string): number {
  const n = positiveInteger(value, option);
  if (n > MAX_TOKENS) throw new InvalidOptionError(option, value, 'accepted: a whole number from 1 to 999999999999');
  return n;
}

/**
 * Refuses a window longer than `MAX_FILL_MS`, or a bucket too slow to refill for a double to
 * follow, naming the window when it is too long by itself, else the burst that makes the bucket
 * too deep.
 */
function assertRefillsInTime(options: PolicyOptions, path: string, windowMs: number, fillMs: number): void {
  if (fillMs <= MAX_FILL_MS && windowMs <= MAX_FILL_MS) return;
  const byWindow = options.burst === undefined || windowMs > MAX_FILL_MS;
  throw new InvalidOptionError(
    `${path}${byWindow ? 'window' : 'burst'}`,
    byWindow ? options.window : options.burst,
    `accepted: a window of at most 2^40 ms (1099511627776 ms, about 34.8 years), with which a ` +
      `bucket refills from empty (burst × window / max) within as long; here the window is ` +
      `${windowMs} ms and the refill takes ${fillMs} ms`,
  );
}
