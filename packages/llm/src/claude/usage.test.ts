import { ErrorCodes, TollgateError } from '@tollgate/core';
import { describe, expect, it } from 'vitest';
import { rateLimitedInput, tokenCounts } from './usage.js';

function invalid(usage: unknown): TollgateError {
  try {
    tokenCounts(usage);
  } catch (error) {
    expect(error).toBeInstanceOf(TollgateError);
    return error as TollgateError;
  }
  throw new Error(`tokenCounts accepted ${JSON.stringify(usage)}`);
}

describe('tokenCounts: a response usage block into billed kinds', () => {
  it('reads the full block the API sends, with the 5-minute / 1-hour split', () => {
    expect(
      tokenCounts({
        input_tokens: 1_234,
        output_tokens: 567,
        cache_creation_input_tokens: 5_000,
        cache_read_input_tokens: 4_000,
        cache_creation: { ephemeral_5m_input_tokens: 2_000, ephemeral_1h_input_tokens: 3_000 },
        service_tier: 'standard',
        server_tool_use: { web_search_requests: 0 },
      }),
    ).toEqual({ input: 1_234, cacheWrite5m: 2_000, cacheWrite1h: 3_000, cacheRead: 4_000, output: 567 });
  });

  it('a minimal block: absent or null cache fields are 0', () => {
    expect(tokenCounts({ input_tokens: 10, output_tokens: 20 })).toEqual({
      input: 10,
      cacheWrite5m: 0,
      cacheWrite1h: 0,
      cacheRead: 0,
      output: 20,
    });
    expect(
      tokenCounts({
        input_tokens: 10,
        output_tokens: 20,
        cache_creation_input_tokens: null,
        cache_read_input_tokens: null,
        cache_creation: null,
      }),
    ).toEqual({ input: 10, cacheWrite5m: 0, cacheWrite1h: 0, cacheRead: 0, output: 20 });
  });

  it('cache writes without a split are billed as 5-minute writes', () => {
    expect(tokenCounts({ input_tokens: 1, output_tokens: 1, cache_creation_input_tokens: 700 })).toMatchObject({
      cacheWrite5m: 700,
      cacheWrite1h: 0,
    });
    expect(
      tokenCounts({
        input_tokens: 1,
        output_tokens: 1,
        cache_creation_input_tokens: 700,
        cache_creation: { ephemeral_5m_input_tokens: 0, ephemeral_1h_input_tokens: 0 },
      }),
    ).toMatchObject({ cacheWrite5m: 700, cacheWrite1h: 0 });
  });

  it('ITPM counts uncached input plus cache writes, never cache reads', () => {
    const tokens = tokenCounts({
      input_tokens: 100,
      output_tokens: 9_999,
      cache_creation_input_tokens: 50,
      cache_read_input_tokens: 100_000,
      cache_creation: { ephemeral_5m_input_tokens: 20, ephemeral_1h_input_tokens: 30 },
    });
    expect(rateLimitedInput(tokens)).toBe(150);
  });
});

describe('tokenCounts: malformed usage is refused with TOLLGATE_INVALID_USAGE', () => {
  const ok = { input_tokens: 10, output_tokens: 20 };

  it.each([
    ['a negative input count', { ...ok, input_tokens: -1 }, 'input_tokens'],
    ['a negative output count', { ...ok, output_tokens: -5 }, 'output_tokens'],
    ['a fractional count', { ...ok, input_tokens: 1.5 }, 'input_tokens'],
    ['a string count', { ...ok, output_tokens: '20' }, 'output_tokens'],
    ['NaN', { ...ok, input_tokens: Number.NaN }, 'input_tokens'],
    ['Infinity', { ...ok, output_tokens: Number.POSITIVE_INFINITY }, 'output_tokens'],
    ['an unsafe integer', { ...ok, input_tokens: 2 ** 60 }, 'input_tokens'],
    ['a missing input count', { output_tokens: 20 }, 'input_tokens'],
    ['a missing output count', { input_tokens: 10 }, 'output_tokens'],
    ['a null input count', { ...ok, input_tokens: null }, 'input_tokens'],
    ['a negative cache read', { ...ok, cache_read_input_tokens: -3 }, 'cache_read_input_tokens'],
    ['a fractional cache write', { ...ok, cache_creation_input_tokens: 0.25 }, 'cache_creation_input_tokens'],
    [
      'a negative 1-hour write',
      { ...ok, cache_creation: { ephemeral_5m_input_tokens: 1, ephemeral_1h_input_tokens: -1 } },
      'ephemeral_1h_input_tokens',
    ],
    [
      'a string 5-minute write',
      { ...ok, cache_creation: { ephemeral_5m_input_tokens: '1', ephemeral_1h_input_tokens: 0 } },
      'ephemeral_5m_input_tokens',
    ],
    ['a cache_creation that is not an object', { ...ok, cache_creation: 12 }, 'cache_creation'],
  ])('%s', (_label, usage, field) => {
    const error = invalid(usage);
    expect(error.code).toBe(ErrorCodes.INVALID_USAGE);
    expect(error.code).toBe('TOLLGATE_INVALID_USAGE');
    expect(error.message).toContain(field);
  });

  it.each([
    ['null', null],
    ['undefined', undefined],
    ['a number', 42],
    ['a string', '{"input_tokens":1}'],
  ])('a usage block that is %s', (_label, usage) => {
    const error = invalid(usage);
    expect(error.code).toBe(ErrorCodes.INVALID_USAGE);
    expect(error.message).toMatch(/usage/);
  });

  it('an array is not a usage block', () => {
    expect(invalid([1, 2]).code).toBe(ErrorCodes.INVALID_USAGE);
  });
});
