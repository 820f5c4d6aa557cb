/** How often a store asks Redis for its clock (TIME) to refresh the offset. */
export const SYNC_INTERVAL_MS = 1000;
/** Samples older than this stop counting, so a server clock that was stepped is followed. */
const EPOCH_MS = 10_000;

/**
 * The Redis server's clock, as seen from this process: bounds on the offset between the server's
 * TIME and this process's monotonic clock, learned from the script calls that read TIME. A call
 * sent at local `s`, answered at local `r`, that read server time `S` (whole ms) ran at some local
 * moment between `s` and `r`, so the offset is above `S - r` and at most `S + 1 - s`.
 *
 * The lower bound is what decisions are timed with: never ahead of the server, so a lagging
 * estimate can only refill a bucket late, never early. The upper bound stamps a bucket that is
 * new or full (see redis-script.ts: there a lagging stamp would let a later caller refill from a
 * moment that has not passed), and judges cached refusals: a refusal still holds at the latest
 * moment the server could be at.
 */
export class ServerClock {
  private low = Number.NEGATIVE_INFINITY;
  private high = Number.POSITIVE_INFINITY;
  private previousLow = Number.NEGATIVE_INFINITY;
  private previousHigh = Number.POSITIVE_INFINITY;
  private epochStart = Number.NEGATIVE_INFINITY;
  private lastSync = Number.NEGATIVE_INFINITY;

  /** Local monotonic milliseconds. */
  local(): number {
    return performance.now();
  }

  /** Whether the next call should read TIME; if so, the sync is counted as started. */
  takeSync(local: number): boolean {
    if (local - this.lastSync < SYNC_INTERVAL_MS && this.known) return false;
    this.lastSync = local;
    return true;
  }

  get known(): boolean {
    return Number.isFinite(this.lowerOffset);
  }

  /** Records a call that read the server's TIME. */
  sample(sentAt: number, receivedAt: number, serverMs: number): void {
    const low = serverMs - receivedAt;
    const high = serverMs + 1 - sentAt;
    if (low > Math.min(this.high, this.previousHigh) || high < Math.max(this.low, this.previousLow)) {
      // No single offset fits this sample and the earlier ones: the server's clock was stepped.
      // The old samples describe a clock that no longer exists; follow the new one at once.
      this.low = Number.NEGATIVE_INFINITY;
      this.high = Number.POSITIVE_INFINITY;
      this.previousLow = Number.NEGATIVE_INFINITY;
      this.previousHigh = Number.POSITIVE_INFINITY;
      this.epochStart = receivedAt;
    } else if (receivedAt - this.epochStart > EPOCH_MS) {
      this.previousLow = this.low;
      this.previousHigh = this.high;
      this.low = Number.NEGATIVE_INFINITY;
      this.high = Number.POSITIVE_INFINITY;
      this.epochStart = receivedAt;
    }
    this.low = Math.max(this.low, low);
    this.high = Math.min(this.high, high);
  }

  /** The server's time now in whole ms, never ahead of it; NaN before the first sample. */
  lowerBound(local: number): number {
    return Math.floor(local + this.lowerOffset);
  }

  /** The latest the server's time can be now; +Infinity before the first sample. */
  upperBound(local: number): number {
    return local + Math.min(this.high, this.previousHigh);
  }

  private get lowerOffset(): number {
    // Two epochs: a fresh epoch with one poor sample must not throw away a good recent one.
    const best = Math.max(this.low, this.previousLow);
    return Number.isFinite(best) ? best : Number.NaN;
  }
}
