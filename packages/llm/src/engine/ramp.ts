/**
 * The admission rate after a provider asks for a slower ramp-up: each such refusal halves it
 * (down to 1/16), and it climbs back linearly over `recoveryMs`. A request then costs
 * `1 / factor` of the request bucket.
 */
export class Ramp {
  private state: { at: number; factor: number } | undefined;

  constructor(private readonly recoveryMs: number) {}

  /** Halves the rate; returns the new factor (for the log line). */
  halve(now = Date.now()): number {
    const factor = Math.max(1 / 16, this.factor(now) / 2);
    this.state = { at: now, factor };
    return factor;
  }

  /** The share of the full rate admitted now, in (0, 1]. */
  factor(now = Date.now()): number {
    if (this.state === undefined) return 1;
    const { at, factor } = this.state;
    const recovered = factor + ((1 - factor) * (now - at)) / this.recoveryMs;
    if (recovered >= 1) {
      this.state = undefined;
      return 1;
    }
    return recovered;
  }
}
