import type { Decision } from './limiter/decision.js';

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
} as const;

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

/** Thrown by `check()` when the request is over the limit. */
export class RateLimitExceededError extends TollgateError {
  /** Whole seconds until the request could succeed; at least 1. */
  readonly retryAfter: number;
  readonly decision: Decision;

  constructor(decision: Decision) {
    const retryAfter = Math.max(1, Math.ceil(decision.retryAfterMs / 1000));
    super(
      ErrorCodes.RATE_LIMITED,
      `Rate limit exceeded. Retry after ${retryAfter} second${retryAfter === 1 ? '' : 's'}`,
    );
    this.name = 'RateLimitExceededError';
    this.retryAfter = retryAfter;
    this.decision = decision;
  }
}

/** The store could not answer and the limiter is configured to refuse (`failMode: 'closed'`). */
export class StoreUnavailableError extends TollgateError {
  readonly decision: Decision;

  constructor(decision: Decision, options?: ErrorOptions) {
    super(ErrorCodes.STORE_UNAVAILABLE, 'Rate limit store unavailable and failMode is "closed"', options);
    this.name = 'StoreUnavailableError';
    this.decision = decision;
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
