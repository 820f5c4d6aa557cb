import { ErrorCodes, TollgateError } from '@tollgate/core';
import type { TokenCounts } from '../engine/tokens.js';

/** The `usage` block of a Claude response, as the API and the official SDK report it. */
export interface ClaudeUsage {
  input_tokens: number;
  output_tokens: number;
  cache_creation_input_tokens?: number | null;
  cache_read_input_tokens?: number | null;
  cache_creation?: { ephemeral_5m_input_tokens?: number | null; ephemeral_1h_input_tokens?: number | null } | null;
}

function count(value: unknown, field: string, optional: boolean): number {
  if ((value === undefined || value === null) && optional) return 0;
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) {
    throw new TollgateError(
      ErrorCodes.INVALID_USAGE,
      `tollgate: usage.${field} must be a whole number of tokens >= 0, got ${JSON.stringify(value) ?? String(value)}`,
    );
  }
  return value;
}

/**
 * Reads a response's usage block into billed token kinds, refusing anything malformed before
 * it can reach the ledger. Cache writes without the 5-minute/1-hour split are billed as 5-minute.
 */
export function tokenCounts(usage: unknown): TokenCounts {
  if (typeof usage !== 'object' || usage === null) {
    throw new TollgateError(
      ErrorCodes.INVALID_USAGE,
      'tollgate: usage must be an object like a Claude response `usage`',
    );
  }
  const u = usage as Record<string, unknown>;
  const written = count(u.cache_creation_input_tokens, 'cache_creation_input_tokens', true);
  let cacheWrite5m = written;
  let cacheWrite1h = 0;
  if (u.cache_creation !== undefined && u.cache_creation !== null) {
    if (typeof u.cache_creation !== 'object') {
      throw new TollgateError(ErrorCodes.INVALID_USAGE, 'tollgate: usage.cache_creation must be an object');
    }
    const split = u.cache_creation as Record<string, unknown>;
    cacheWrite5m = count(split.ephemeral_5m_input_tokens, 'cache_creation.ephemeral_5m_input_tokens', true);
    cacheWrite1h = count(split.ephemeral_1h_input_tokens, 'cache_creation.ephemeral_1h_input_tokens', true);
    if (cacheWrite5m + cacheWrite1h === 0) cacheWrite5m = written;
  }
  return {
    input: count(u.input_tokens, 'input_tokens', false),
    cacheWrite5m,
    cacheWrite1h,
    cacheRead: count(u.cache_read_input_tokens, 'cache_read_input_tokens', true),
    output: count(u.output_tokens, 'output_tokens', false),
  };
}

/** Input tokens that count against ITPM: uncached input plus cache writes, not cache reads. */
export function rateLimitedInput(tokens: TokenCounts): number {
  return tokens.input + tokens.cacheWrite5m + tokens.cacheWrite1h;
}
