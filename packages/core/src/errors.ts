/**
 * Every error tollgate throws carries one of these codes. They are stable: match on
 * `error.code`, never on the message.
 */
export const ErrorCodes = {
  /** An option has a value outside what is accepted. */
  INVALID_OPTION: 'TOLLGATE_INVALID_OPTION',
  /** An option name that tollgate does not know (often a typo). */
  UNKNOWN_OPTION: 'TOLLGATE_UNKNOWN_OPTION',
  /** A call's `cost` is negative, not finite, or larger than a policy's capacity. */
  INVALID_COST: 'TOLLGATE_INVALID_COST',
  /** A key function returned something other than a non-empty string. */
  INVALID_KEY: 'TOLLGATE_INVALID_KEY',
  /** `check()` refused a call: the limit is exhausted. */
  RATE_LIMITED: 'TOLLGATE_RATE_LIMITED',
  /** The store failed or timed out and `failMode` is `'closed'`. */
  STORE_UNAVAILABLE: 'TOLLGATE_STORE_UNAVAILABLE',
  /** A store call took longer than `timeoutMs`. */
  STORE_TIMEOUT: 'TOLLGATE_STORE_TIMEOUT',
  /** The Redis store got a reply it cannot interpret. */
  STORE_PROTOCOL: 'TOLLGATE_STORE_PROTOCOL',
  /** `recordMetric` got a value it cannot record: not finite, or negative for a counter. */
  INVALID_METRIC_VALUE: 'TOLLGATE_INVALID_METRIC_VALUE',
  /** `recordMetric` got attribute keys other than the ones its first call for that name fixed. */
  METRIC_LABELS_MISMATCH: 'TOLLGATE_METRIC_LABELS_MISMATCH',
  /** A metric name is already taken in the registry by a metric of another kind or unit. */
  METRIC_CONFLICT: 'TOLLGATE_METRIC_CONFLICT',
  /** `setupTelemetry` found a global tracer provider already registered (its own or another SDK's). */
  TELEMETRY_ALREADY_REGISTERED: 'TOLLGATE_TELEMETRY_ALREADY_REGISTERED',
  /** Telemetry or metrics were used without the optional package they need (`@opentelemetry/api`, `prom-client`). */
  PEER_DEPENDENCY_MISSING: 'TOLLGATE_PEER_DEPENDENCY_MISSING',
  /** A Claude `usage` block with a negative, fractional or missing token count, or not an object. */
  INVALID_USAGE: 'TOLLGATE_INVALID_USAGE',
  /** The Claude API answered with a spend-cap 429: calls are refused until the cap resets. */
  SPEND_CAP_REACHED: 'TOLLGATE_SPEND_CAP_REACHED',
  /** A daily or monthly spend budget set on ClaudeRateLimiter has no room for the call. */
  BUDGET_EXCEEDED: 'TOLLGATE_BUDGET_EXCEEDED',
  /** A Claude model id that is not a non-empty string of letters, digits, `.`, `_` and `-` (at most 64). */
  INVALID_MODEL: 'TOLLGATE_INVALID_MODEL',
} as const;

/** One of the `ErrorCodes` values, e.g. `'TOLLGATE_RATE_LIMITED'`. */
export type ErrorCode = (typeof ErrorCodes)[keyof typeof ErrorCodes];

/** Base class of every error tollgate throws. */
export class TollgateError extends Error {
  readonly code: ErrorCode;

  constructor(code: ErrorCode, message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'TollgateError';
    this.code = code;
  }
}

/** An option failed validation when a limiter or middleware was built. */
export class InvalidOptionError extends TollgateError {
  readonly option: string;
  readonly value: unknown;

  constructor(option: string, value: unknown, accepted: string, code: ErrorCode = ErrorCodes.INVALID_OPTION) {
    super(code, `tollgate: option \`${option}\` is ${describeValue(value)}; ${accepted}`);
    this.name = 'InvalidOptionError';
    this.option = option;
    this.value = value;
  }
}

/** Renders a received value for an error message without dumping huge or hostile input. */
export function describeValue(value: unknown): string {
  if (typeof value === 'string') {
    const shown = value.length > 40 ? `${value.slice(0, 40)}…` : value;
    return JSON.stringify(shown);
  }
  if (typeof value === 'function') return 'a function';
  if (value === null) return 'null';
  if (Array.isArray(value)) return `an array of ${value.length}`;
  if (typeof value === 'object') return 'an object';
  if (typeof value === 'bigint') return `${value}n`;
  return String(value);
}
