import { ErrorCodes, TollgateError } from '@tollgate/core';

/** A spend budget of the limiter (e.g. ClaudeRateLimiter) has no room for the call's worst-case cost. */
export class BudgetExceededError extends TollgateError {
  readonly period: 'daily' | 'monthly';
  /** When the period ends and the budget starts again. */
  readonly until: Date;

  constructor(period: 'daily' | 'monthly', until: Date) {
    super(
      ErrorCodes.BUDGET_EXCEEDED,
      `The ${period} spend budget is reached; it starts again at ${until.toISOString()}`,
    );
    this.name = 'BudgetExceededError';
    this.period = period;
    this.until = until;
  }
}
