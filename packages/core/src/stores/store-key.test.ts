import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { storeKey } from './store-key.js';

describe('storeKey', () => {
  it('keeps keys that differ only in a lone surrogate apart (UTF-8 would turn both into U+FFFD)', () => {
    expect(storeKey('user:\ud800')).not.toBe(storeKey('user:\udfff'));
    expect(storeKey('user:\ud800')).not.toBe(storeKey('user:\ufffd'));
    expect(storeKey('\ud800\ud800')).not.toBe(storeKey('\udc00\udc00'));
  });

  it('maps distinct strings to distinct store keys, lone surrogates included', () => {
    // 'binary' strings are any UTF-16 code units, so lone surrogates and U+FFFD show up often.
    const key = fc.oneof(
      fc.string({ unit: 'binary', minLength: 1 }),
      fc.string({ unit: fc.constantFrom('a', ':', ' ', '\ud800', '\udbff', '\udc00', '\udfff', '\ufffd') }),
    );
    fc.assert(
      fc.property(key, key, (a, b) => {
        fc.pre(a !== b && a.length > 0 && b.length > 0);
        expect(storeKey(a)).not.toBe(storeKey(b));
      }),
      { numRuns: 20_000 },
    );
  });

  it('keeps safe keys readable and well-formed keys on the digest they always had', () => {
    expect(storeKey('user:42')).toBe('user:42');
    // A pinned digest: existing Redis buckets of non-safe keys must not move with this fix.
    expect(storeKey('user 42')).toBe('#0_EHiWmDVXpFbQ8VACVulm7HnrauTT4O');
    expect(storeKey('ключ 🔑')).toBe('#ysGnwC5UFhTOOTmvDoBi6W7fIgVa4vzP');
  });
});
