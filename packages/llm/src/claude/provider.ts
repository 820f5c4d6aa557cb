import type { LlmProvider } from '../engine/provider.js';
import { claudeMetrics } from './claude-metrics.js';
import { estimateInputTokens } from './estimate.js';
import { modelFamily } from './families.js';
import { type PriceTable, priceCall, safeModelId } from './pricing.js';
import { claudeRemaining, unpackClaude } from './response.js';
import { classifyFailure, nextMonthStartUtc } from './retry-policy.js';
import { rateLimitedInput, tokenCounts } from './usage.js';

/**
 * The Claude API as the engine sees it: model families, the price table, usage → token counts,
 * failure classification (spend caps, ramp limits, `x-should-retry`, `retry-after`), the
 * `anthropic-ratelimit-*` headers and request ids.
 */
export function claudeProvider(
  families: Readonly<Record<string, string>> | undefined,
  prices: PriceTable,
): LlmProvider {
  return {
    label: 'Claude API',
    family: (model) => modelFamily(model, families),
    safeModelId,
    estimateInput: estimateInputTokens,
    tokenCounts,
    rateLimitedInput,
    price: (model, tokens, batch) => priceCall(prices, model, tokens, batch),
    classify(error, now) {
      const failure = classifyFailure(error);
      return {
        kind: failure.kind,
        retry: failure.retry,
        retryAfterMs: failure.retryAfterMs,
        // The cap lifts at the start of the next month (UTC).
        spendCap:
          failure.kind === 'spend-cap'
            ? { errorCode: failure.errorCode ?? 'spend_limit_reached', until: nextMonthStartUtc(now) }
            : undefined,
        ramp: failure.kind === 'ramp',
      };
    },
    unpack: unpackClaude,
    remaining: claudeRemaining,
    metrics: claudeMetrics,
  };
}
