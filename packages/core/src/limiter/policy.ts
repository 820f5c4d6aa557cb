import { type Duration, formatDuration, parseDuration } from '../duration.js';
import { InvalidOptionError } from '../errors.js';
import { assertKnownOptions, positiveInteger } from '../options/validate.js';

/** One limit as the caller writes it: `max` per `window`, with an optional larger `burst`. */
export interface PolicyOptions {
  /** Tokens added per `window` (the sustained rate). */
  max: number;
  /** Milliseconds, or `'500ms' | '30s' | '1m' | '1h' | '1d'`. */
  window: Duration;
  /** Bucket capacity; defaults to `max`. */
  burst?: number;
}

/** A validated policy. */
export interface Policy {
  readonly max: number;
  readonly windowMs: number;
  /** Bucket capacity: `burst ?? max`. */
  readonly capacity: number;
  /** Tokens refilled per millisecond: `max / windowMs`. */
  readonly ratePerMs: number;
  /** Stable identity used in store keys and fields, e.g. `100-60000-100`. */
  readonly id: string;
  /** Human label used in headers, e.g. `100-per-1m`. */
  readonly label: string;
}

const POLICY_OPTIONS = new Set(['max', 'window', 'burst']);

export function createPolicy(options: PolicyOptions, path = ''): Policy {
  if (typeof options !== 'object' || options === null) {
    throw new InvalidOptionError(path || 'policy', options, 'accepted: an object { max, window, burst? }');
  }
  assertKnownOptions(options, POLICY_OPTIONS, path ? `a policy (${path})` : 'a policy');
  const max = positiveInteger(options.max, `${path}max`);
  const windowMs = parseDuration(options.window, `${path}window`);
  const capacity = options.burst === undefined ? max : positiveInteger(options.burst, `${path}burst`);
  const label = `${max}-per-${formatDuration(windowMs)}`;
  return Object.freeze({
    max,
    windowMs,
    capacity,
    ratePerMs: max / windowMs,
    id: `${max}-${windowMs}-${capacity}`,
    label: capacity === max ? label : `${label}-burst-${capacity}`,
  });
}
