/**
 * List prices of Claude models, USD per million tokens, as collected on the date below. Prices
 * change: pass `pricing` to ClaudeRateLimiter to override or extend them, and keep this table
 * dated. A model missing here is counted as unpriced, never as free.
 */
export const PRICES_AS_OF = '2026-11-25';

/** USD per million tokens for each kind of token a Claude response reports. */
export interface ModelPrice {
  readonly input: number;
  /** Cache writes with the default 5-minute lifetime. */
  readonly cacheWrite5m: number;
  /** Cache writes with the 1-hour lifetime. */
  readonly cacheWrite1h: number;
  readonly cacheRead: number;
  readonly output: number;
  /**
   * A second band for long prompts: when a request's prompt (input, cache writes and cache reads
   * together) exceeds `aboveTokens`, every token of that request, output too, is billed at it.
   */
  readonly longPrompt?: { readonly aboveTokens: number; readonly price: Omit<ModelPrice, 'longPrompt'> };
}

const price = (input: number, cacheWrite5m: number, cacheWrite1h: number, cacheRead: number, output: number) =>
  Object.freeze({ input, cacheWrite5m, cacheWrite1h, cacheRead, output });

const opus45 = price(5, 6.25, 10, 0.5, 25);
const opus4 = price(15, 18.75, 30, 1.5, 75);
const sonnet45 = price(3, 3.75, 6, 0.3, 15);

/**
 * Keyed by model id without a date suffix; `claude-opus-4-1-20250805` finds `claude-opus-4-1`.
 * claude-sonnet-5-5's cache-read price may have dropped to 0.10 on 2026-10-07 (unverified);
 * the table keeps the last verified 0.20.
 */
export const DEFAULT_PRICES: Readonly<Record<string, ModelPrice>> = Object.freeze({
  'claude-opus-5-5': price(4, 5, 8, 0.2, 20),
  'claude-opus-5': opus45,
  'claude-opus-4-8': opus45,
  'claude-opus-4-7': opus45,
  'claude-opus-4-6': opus45,
  'claude-opus-4-5': opus45,
  'claude-opus-4-1': opus4,
  'claude-opus-4': opus4,
  'claude-sonnet-5-5': price(2, 2.5, 4, 0.2, 10),
  'claude-sonnet-5': price(2, 2.5, 4, 0.2, 10),
  'claude-sonnet-4-6': sonnet45,
  'claude-sonnet-4-5': sonnet45,
  'claude-haiku-5-5': Object.freeze({
    ...price(0.1, 0.125, 0.2, 0.01, 0.5),
    longPrompt: Object.freeze({ aboveTokens: 100_000, price: price(0.5, 0.625, 1, 0.05, 2.5) }),
  }),
  'claude-haiku-4-5': price(1, 1.25, 2, 0.1, 5),
  'claude-3-5-haiku': price(0.8, 1, 1.6, 0.08, 4),
  'claude-fable-5-1': price(10, 12.5, 20, 0.25, 50),
});

/** Batch requests cost half of every price, cache prices included. */
export const BATCH_DISCOUNT = 0.5;
