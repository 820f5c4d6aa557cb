/**
 * A refund that can happen once: what one admitted request took, given back at most one time
 * whoever asks (a response's `finish` and its `close` both report; a retry after a timed-out
 * refund must not refund again: whether the first reached the store is unknown, so it is not
 * repeated). Made by `RateLimiter.receipt`.
 */
export class Receipt {
  private used = false;

  constructor(private readonly giveBack: (() => Promise<boolean>) | undefined) {}

  /** Whether a refund is still possible (something was taken and nothing given back yet). */
  get refundable(): boolean {
    return !this.used && this.giveBack !== undefined;
  }

  /** Gives the tokens back; resolves true if this call did, false if there was nothing (left) to refund. */
  refund(): Promise<boolean> {
    if (this.used || this.giveBack === undefined) return Promise.resolve(false);
    this.used = true;
    return this.giveBack();
  }
}
