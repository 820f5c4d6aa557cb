import { describe, expect, it } from 'vitest';
import { ErrorCodes, InvalidOptionError } from '../errors.js';
import { MemoryStore } from '../stores/memory-store.js';
import type { Decision } from './decision.js';
import { createPolicy, MAX_FILL_MS, MAX_TOKENS, type PolicyOptions } from './policy.js';
import { RateLimiter } from './rate-limiter.js';

function refusal(build: () => unknown): InvalidOptionError {
  try {
    build();
  } catch (error) {
    expect(error).toBeInstanceOf(InvalidOptionError);
    return error as InvalidOptionError;
  }
  throw new Error('expected an InvalidOptionError');
}

describe('createPolicy bounds (issue 13, items 4 and 7)', () => {
  // The probe's options: accepted before, and each decision then blocked the event loop for
  // seconds, or sent header values no Structured Field parser accepts.
  const extremes: Array<{ options: PolicyOptions; option: string; value: string }> = [
    { options: { max: 1, window: 1e15, burst: 1e10 }, option: 'window', value: '1000000000000000' },
    { options: { max: 1000, window: 2 ** 53 - 1, burst: 2 ** 52 - 1 }, option: 'burst', value: '4503599627370495' },
    { options: { max: 1, window: 2 ** 53 - 1, burst: 2 ** 53 - 1 }, option: 'burst', value: '9007199254740991' },
    { options: { max: 1e15, window: '1s' }, option: 'max', value: '1000000000000000' },
    { options: { max: 1, window: 1e15, burst: 1e4 }, option: 'window', value: '1000000000000000' },
  ];
  for (const { options, option, value } of extremes) {
    it(`refuses ${JSON.stringify(options)}, naming ${option} and its value`, () => {
      const error = refusal(() => new RateLimiter({ ...options, store: new MemoryStore() }));
      expect(error.code).toBe(ErrorCodes.INVALID_OPTION);
      expect(error.option).toBe(option);
      expect(error.message).toContain(`\`${option}\` is ${value}`);
    });
  }

  it('names the policy in a list of policies', () => {
    const error = refusal(
      () =>
        new RateLimiter({
          policies: [
            { max: 10, window: '1s' },
            { max: 1, window: '1d', burst: 1e6 },
          ],
        }),
    );
    expect(error.option).toBe('policies[1].burst');
  });

  it('accepts max and burst up to 999,999,999,999 and refuses one more', () => {
    expect(MAX_TOKENS).toBe(999_999_999_999);
    expect(createPolicy({ max: MAX_TOKENS, window: 1 }).capacity).toBe(MAX_TOKENS);
    expect(createPolicy({ max: 1, window: 1, burst: MAX_TOKENS }).capacity).toBe(MAX_TOKENS);
    expect(refusal(() => createPolicy({ max: MAX_TOKENS + 1, window: 1 })).option).toBe('max');
    expect(refusal(() => createPolicy({ max: 1, window: 1, burst: MAX_TOKENS + 1 })).option).toBe('burst');
  });

  it('accepts a bucket that refills from empty in 2^40 ms and refuses a millisecond more', () => {
    expect(MAX_FILL_MS).toBe(2 ** 40);
    expect(createPolicy({ max: 1, window: 2 ** 40 }).windowMs).toBe(2 ** 40);
    expect(refusal(() => createPolicy({ max: 1, window: 2 ** 40 + 1 })).option).toBe('window');
    // burst × window / max: 12725 days is within 2^40 ms, 12726 days is not.
    expect(createPolicy({ max: 1, window: '1d', burst: 12_725 }).capacity).toBe(12_725);
    const deep = refusal(() => createPolicy({ max: 1, window: '1d', burst: 12_726 }));
    expect(deep.option).toBe('burst');
    expect(deep.message).toContain('refills from empty (burst × window / max) within as long');
    // A window past 2^40 ms is refused even when the bucket is shallow: stretched to whole
    // seconds for the headers, it would not fit a Structured Field integer.
    expect(refusal(() => createPolicy({ max: 1_000_000, window: 2 ** 53 - 1, burst: 1 })).option).toBe('window');
    expect(createPolicy({ max: 1_000_000, window: 2 ** 40 - 1, burst: 1 }).windowMs).toBe(2 ** 40 - 1);
  });

  it('the largest accepted buckets decide, and their waits are exact safe integers', () => {
    let now = 0;
    const store = new MemoryStore({ now: () => now });
    const largest: PolicyOptions[] = [
      { max: 1, window: 2 ** 40 },
      { max: MAX_TOKENS, window: 2 ** 40, burst: MAX_TOKENS },
      { max: 1, window: '1d', burst: 12_725 },
      { max: MAX_TOKENS, window: 1, burst: 1 },
    ];
    for (const options of largest) {
      const limiter = new RateLimiter({ ...options, store });
      const capacity = options.burst ?? options.max;
      const first = limiter.decide('k', capacity) as Decision;
      expect(first.allowed).toBe(true);
      expect(Number.isSafeInteger(first.resetMs)).toBe(true);
      const second = limiter.decide('k', 1) as Decision;
      expect(second.allowed).toBe(false);
      expect(Number.isSafeInteger(second.retryAfterMs)).toBe(true);
      now += second.retryAfterMs;
      expect((limiter.decide('k', 1) as Decision).allowed).toBe(true);
    }
  });
});
