/**
 * Tokens of one call by the way each is billed: what every provider's usage is read into, and
 * what the ledger, the budgets and the metrics count. A provider without prompt caching reports
 * zeros for the cache kinds.
 */
export interface TokenCounts {
  readonly input: number;
  readonly cacheWrite5m: number;
  readonly cacheWrite1h: number;
  readonly cacheRead: number;
  readonly output: number;
}

export const TOKEN_KINDS = ['input', 'cacheWrite5m', 'cacheWrite1h', 'cacheRead', 'output'] as const;

export const NO_TOKENS: TokenCounts = Object.freeze({
  input: 0,
  cacheWrite5m: 0,
  cacheWrite1h: 0,
  cacheRead: 0,
  output: 0,
});
