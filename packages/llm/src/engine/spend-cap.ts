import { SpendCapError } from '../errors.js';

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
