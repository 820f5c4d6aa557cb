import { ErrorCodes, TollgateError } from '@tollgate/core';

/**
 * Once the provider refuses a call for the account's spend cap, every call is refused here,
 * without calling the API, until the cap lifts.
 */
export class SpendCapGate {
  private closed: { until: number; errorCode: string } | undefined;

  /** Remembers the refusal; returns the error to throw for it. */
  close(errorCode: string, until: number, cause: unknown): SpendCapError {
    this.closed = { until, errorCode };
    return new SpendCapError(errorCode, new Date(until), { cause });
  }

  /** Throws `SpendCapError` while the cap holds. */
  assertOpen(now = Date.now()): void {
    if (this.closed === undefined) return;
    if (now >= this.closed.until) {
      this.closed = undefined;
      return;
    }
    throw new SpendCapError(this.closed.errorCode, new Date(this.closed.until));
  }
}

/**
 * The provider's API refused a call because the organisation's spend cap is reached. tollgate
 * refuses further calls itself, without calling the API, until `until` (00:00 UTC on the 1st).
 */
export class SpendCapError extends TollgateError {
  readonly until: Date;
  /** The provider's `error_code`: `enforced_spend_limit_reached` or `contract_spend_limit_reached`. */
  readonly errorCode: string;

  constructor(errorCode: string, until: Date, options?: ErrorOptions) {
    super(
      ErrorCodes.SPEND_CAP_REACHED,
      `The API's spend cap is reached (${errorCode}); calls are refused until ${until.toISOString()}`,
      options,
    );
    this.name = 'SpendCapError';
    this.until = until;
    this.errorCode = errorCode;
  }
}
