import type { LlmProvider } from '../engine/provider.js';
import { claudeMetrics } from './claude-metrics.js';
import { CacheAwareEstimator, maxInputTokens } from './estimate.js';
import { modelFamily } from './families.js';
import { budgetMicros, type PriceTable, priceCall, safeModelId } from './pricing.js';
import { claudeRemaining, unpackClaude } from './response.js';
import { classifyFailure, headerValue, nextMonthStartUtc } from './retry-policy.js';
import { watchClaudeStream } from './stream.js';
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
  // Remembers the cached prompt prefixes this process sent, to reserve them as cache reads.
  const estimates = new CacheAwareEstimator();
  return {
    label: 'Claude API',
    family: (model) => modelFamily(model, families),
    safeModelId,
    estimateInput: (request) => estimates.estimate(request),
    maxInput: maxInputTokens,
    tokenCounts,
    rateLimitedInput,
    price: (model, tokens, batch) => priceCall(prices, model, tokens, batch),
    budgetPrice: (model, tokens, batch) => budgetMicros(prices, model, tokens, batch),
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
        // A quota 429 (not the spend cap, which closes the gate instead) holds the whole family.
        pauseMs: failure.kind === 'rate' || failure.kind === 'ramp' ? failure.retryAfterMs : undefined,
      };
    },
    unpack: unpackClaude,
    remaining: claudeRemaining,
    defaultBurst: claudeBurst,
    limits: claudeLimits,
    untilFull: claudeUntilFull,
    watchStream: watchClaudeStream,
    metrics: claudeMetrics,
  };
}

/**
 * A limit's bucket size when the caller gives no `burst`. The API may enforce a per-minute limit
 * over shorter windows ("60 per minute may be enforced as 1 per second"): requests get one
 * second's worth (at least one), so 60 RPM admits a call a second, not 60 at once. Tokens keep
 * the whole minute: one call's tokens cannot be split, so a smaller bucket would cap (and so
 * under-reserve) every call above a second's worth; the request bucket paces them anyway.
 */
export function claudeBurst(kind: 'rpm' | 'itpm' | 'otpm', perMinute: number): number {
  return kind === 'rpm' ? Math.max(1, Math.ceil(perMinute / 60)) : perMinute;
}

/** The buckets' names in the `anthropic-ratelimit-<name>-*` headers: requests, input, output. */
const BUCKETS = ['requests', 'input-tokens', 'output-tokens'] as const;

type Headers = Parameters<typeof headerValue>[0];

/** What `anthropic-ratelimit-*-limit` says each limit is per minute; undefined when it said nothing. */
export function claudeLimits(headers: unknown): (number | undefined)[] | undefined {
  const limits = BUCKETS.map((name) => {
    const n = Number(headerValue(headers as Headers, `anthropic-ratelimit-${name}-limit`) ?? Number.NaN);
    return Number.isSafeInteger(n) && n > 0 ? n : undefined;
  });
  return limits.some((n) => n !== undefined) ? limits : undefined;
}

/**
 * Ms until `anthropic-ratelimit-*-reset` (an RFC 3339 time when the bucket is full again), on
 * the server's clock when the response has a `date` (so this host's clock skew does not count).
 */
export function claudeUntilFull(headers: unknown): (number | undefined)[] | undefined {
  const date = Date.parse(headerValue(headers as Headers, 'date') ?? '');
  const now = Number.isNaN(date) ? Date.now() : date;
  const left = BUCKETS.map((name) => {
    const raw = headerValue(headers as Headers, `anthropic-ratelimit-${name}-reset`);
    const at = raw === undefined ? Number.NaN : Date.parse(raw);
    // A reset an hour away is not a per-minute bucket's: ignored.
    return Number.isNaN(at) || at - now > 3_600_000 ? undefined : Math.max(0, at - now);
  });
  return left.some((n) => n !== undefined) ? left : undefined;
}
