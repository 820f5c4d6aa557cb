/**
 * tollgate for LLM APIs: `ClaudeRateLimiter` keeps Claude API calls within the organisation's
 * limits (requests, input and output tokens per minute, per model family, across every instance
 * sharing a Redis store) and spend budgets, retries what the API says to retry, and prices every
 * call into a usage ledger.
 *
 * @packageDocumentation
 * @module @tollgate/llm
 */
export {
  type CallEstimate,
  ClaudeRateLimiter,
  type ClaudeRateLimiterOptions,
  type FamilyLimits,
  type ModelUsage,
  type RecordOptions,
  type Reservation,
  type UsageStats,
} from './claude-rate-limiter.js';
export { BudgetExceededError, SpendCapError } from './errors.js';
export { MemoryLedger, RedisLedger, type UsageEntry, type UsageLedger } from './ledger.js';
export { DEFAULT_PRICES, type ModelPrice, PRICES_AS_OF } from './prices.js';
export { type PricedCall, priceCall } from './pricing.js';
export { type ClaudeUsage, type TokenCounts, tokenCounts } from './usage.js';
