import { ErrorCodes, TollgateError } from '@tollgate/core';

/**
 * The Claude API refused a call because the organisation's spend cap is reached. tollgate
 * refuses further calls itself, without calling the API, until `until` (00:00 UTC on the 1st).
 */
export class SpendCapError extends TollgateError {
  readonly until: Date;
  /** The provider's `error_code`: `enforced_spend_limit_reached` or `contract_spend_limit_reached`. */
  readonly errorCode: string;

  constructor(errorCode: string, until: Date, options?: ErrorOptions) {
    super(
      ErrorCodes.SPEND_CAP_REACHED,
      `Claude API spend cap reached (${errorCode}); calls are refused until ${until.toISOString()}`,
      options,
    );
    this.name = 'SpendCapError';
    this.until = until;
    this.errorCode = errorCode;
  }
}

/** A spend budget of ClaudeRateLimiter has no room for the call's worst-case cost. */
export class BudgetExceededError extends TollgateError {
  readonly period: 'daily' | 'monthly';
  /** When the period ends and the budget starts again. */
  readonly until: Date;

  constructor(period: 'daily' | 'monthly', until: Date) {
    super(
      ErrorCodes.BUDGET_EXCEEDED,
      `The ${period} Claude spend budget is reached; it starts again at ${until.toISOString()}`,
    );
    this.name = 'BudgetExceededError';
    this.period = period;
    this.until = until;
  }
}
