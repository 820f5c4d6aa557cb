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
