import type { TokenCounts } from './tokens.js';

/** A model family's limits, per minute, as the provider's console shows them for your organisation. */
export interface FamilyLimits {
  /** Requests per minute. */
  rpm: number;
  /** Input tokens per minute (uncached input plus cache writes). */
  itpm: number;
  /** Output tokens per minute. */
  otpm: number;
  /**
   * Bucket sizes: how many of each may go at once from full (default: one second's worth of
   * requests, at least 1, as the API may enforce a per-minute limit per second; the whole
   * minute for tokens).
   */
  burst?: { rpm?: number; itpm?: number; otpm?: number };
}

/** What a caller knows about a call before making it. */
export interface CallEstimate {
  /** Input tokens if known (from the token-counting endpoint); else estimated from `request`. */
  inputTokens?: number;
  /** The request's `max_tokens`: output is never reserved above it. */
  maxTokens?: number;
  /** The Messages API request, to estimate input from. */
  request?: unknown;
  /** Overrides `maxWaitMs` for this call. */
  waitMs?: number;
  /** Whose spend budget the call counts against (a customer or API key id); the app's without one. */
  tenant?: string;
}

/** Budget held for one admitted call until its real usage is known. Settle it exactly once. */
export interface Reservation<Usage = unknown> {
  readonly model: string;
  readonly family: string;
  readonly inputTokens: number;
  readonly outputTokens: number;
  /**
   * Charges the real usage (refunding or charging the difference), or with no usage gives the
   * tokens back (the call failed). Then lowers the buckets to what the response headers say is
   * left. A second call does nothing.
   */
  settle(usage?: Usage, headers?: unknown): Promise<void>;
}

/** How `recordUsage` counts one call. */
export interface RecordOptions {
  success?: boolean;
  /** The response's `request-id`: recording the same id twice counts it once. */
  requestId?: string;
  /** Batch API calls are billed at half price. */
  batch?: boolean;
  /** HTTP attempts this one call took (default 1): a call retried twice is 1 call and 3 attempts. */
  attempts?: number;
}

/** Calls, tokens by kind and cost, summed over a day, a model, or both. */
export interface ModelUsage {
  /** Logical calls: a call retried after errors counts once. */
  calls: number;
  /** HTTP attempts; `attempts - calls` is the number of errors that were retried. */
  attempts: number;
  errors: number;
  unpricedCalls: number;
  costMicros: number;
  costUsd: number;
  tokens: TokenCounts;
}

/** What `getUsageStats` returns: the totals, then per UTC day (newest first) and per model. */
export interface UsageStats extends ModelUsage {
  /** The price table's date. */
  pricesAsOf: string;
  days: Array<ModelUsage & { date: string; models: Record<string, ModelUsage> }>;
  models: Record<string, ModelUsage>;
}
