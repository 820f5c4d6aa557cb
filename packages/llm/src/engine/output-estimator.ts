/**
 * A running typical output per model: an exponentially weighted mean of real output counts,
 * so output is reserved at what calls usually produce rather than always at `max_tokens`.
 */
export class OutputEstimator {
  private readonly means = new Map<string, number>();

  constructor(private readonly initial = 1024) {}

  /** Tokens to reserve for a call: the typical output, never above the call's `max_tokens`. */
  reserve(model: string, maxTokens: number | undefined): number {
    const typical = Math.ceil(this.means.get(model) ?? this.initial);
    return maxTokens === undefined ? typical : Math.min(maxTokens, typical);
  }

  observe(model: string, outputTokens: number): void {
    const mean = this.means.get(model);
    this.means.set(model, mean === undefined ? outputTokens : mean * 0.8 + outputTokens * 0.2);
  }
}
