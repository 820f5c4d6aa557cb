/**
 * Input tokens of a Messages API request, estimated before the call from its text: about
 * three characters per token, which overestimates ordinary English (nearer four) so the
 * reservation errs high and the real count, settled after the call, gives back the difference.
 */
export function estimateInputTokens(request: unknown): number {
  let chars = 0;
  const visit = (value: unknown, depth: number): void => {
    if (depth > 32) return;
    if (typeof value === 'string') chars += value.length;
    else if (Array.isArray(value)) for (const item of value) visit(item, depth + 1);
    else if (typeof value === 'object' && value !== null) {
      for (const [key, item] of Object.entries(value)) {
        // Binary payloads are billed by the provider's own image/document rules, not by length.
        if (key === 'data' && typeof item === 'string' && item.length > 10_000) chars += 6_000;
        else visit(item, depth + 1);
      }
    }
  };
  if (typeof request === 'object' && request !== null) {
    const { system, messages, tools } = request as Record<string, unknown>;
    visit(system, 0);
    visit(messages, 0);
    visit(tools, 0);
  }
  return Math.max(1, Math.ceil(chars / 3));
}

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
