/**
 * tollgate for LLM APIs: `ClaudeRateLimiter` keeps Claude API calls within the organisation's
 * limits (requests, input and output tokens per minute, per model family, across every instance
 * sharing a Redis store) and spend budgets, retries what the API says to retry, and prices every
 * call into a usage ledger. Inside, a provider-neutral engine (`engine/`) and the Claude
 * provider (`claude/`).
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
} from './claude/claude-rate-limiter.js';
export type { CountTokensOptions } from './claude/count-tokens.js';
export {
  type ClaudeClientLike,
  type LimitClaudeOptions,
  limitClaude,
  type SdkMiddleware,
  type SdkRequest,
} from './claude/limit-claude.js';
export { InvalidModelError } from './claude/model-id.js';
export { DEFAULT_PRICES, type ModelPrice, PRICES_AS_OF } from './claude/prices.js';
export { type PricedCall, priceCall } from './claude/pricing.js';
export { type ClaudeUsage, tokenCounts } from './claude/usage.js';
export { BudgetExceededError } from './engine/budget-exceeded-error.js';
export type { BucketStatus, FamilyStatus } from './engine/family-status.js';
export { MemoryLedger, RedisLedger, type UsageEntry, type UsageLedger } from './engine/ledger.js';
export { SpendCapError } from './engine/spend-cap.js';
export type { TokenCounts } from './engine/tokens.js';
