import { describe, expect, it } from 'vitest';
import { DenialCache } from './denial-cache.js';
import { luaNumber } from './lua-number.js';

const bucket = { id: '10-1000-10', capacity: 10, ratePerMs: 0.01 };

describe('DenialCache', () => {
  it('refuses only while the buckets, refilled to the latest possible server time, cannot pay', () => {
    const cache = new DenialCache(10);
    // 0.5 tokens at t=1000: one token needs 50 ms more, three need 250 ms.
    cache.remember('k', [bucket], 1000, [0.5], 0, 250);
    expect(cache.lookup('k', [bucket], [1], 1049, 1049, 10)).toEqual({ allowed: false, tokens: [0.99] });
    expect(cache.lookup('k', [bucket], [1], 1050, 1040, 10)).toBeUndefined();
    expect(cache.lookup('k', [bucket], [3], 1050, 1040, 10)?.allowed).toBe(false);
    // Different policies under the same key are not answered, and the entry goes.
    expect(cache.lookup('k', [{ ...bucket, capacity: 20 }], [3], 1050, 1040, 10)).toBeUndefined();
    expect(cache.size).toBe(0);
  });

  it('drops an entry once it is stale, and never holds more than maxKeys', () => {
    const cache = new DenialCache(3);
    cache.remember('a', [bucket], 0, [0], 0, 100);
    expect(cache.lookup('a', [bucket], [1], 0, 0, 100)).toBeUndefined();
    expect(cache.size).toBe(0);
    for (let i = 0; i < 10; i++) cache.remember(`k${i}`, [bucket], 0, [0], 0, 1000);
    expect(cache.size).toBe(3);
    expect(cache.lookup('k9', [bucket], [1], 0, 0, 1)?.allowed).toBe(false);
    expect(cache.lookup('k0', [bucket], [1], 0, 0, 1)).toBeUndefined();
  });
});

describe('luaNumber', () => {
  it('writes integers in decimal and everything else as an exact hex float', () => {
    expect(luaNumber(1_000_000_000)).toBe('1000000000');
    expect(luaNumber(-3)).toBe('-3');
    expect(luaNumber(0.5)).toBe('0x1p-1');
    expect(luaNumber(1e9 / 3.6e6)).toBe('0x1.15c71c71c71c7p8');
    expect(luaNumber(-0.1)).toBe('-0x1.999999999999ap-4');
    expect(luaNumber(5e-324)).toBe('0x0.0000000000001p-1022');
    for (const x of [1 / 3, 7 / 60_000, 1e-12, 123456.789, 2 ** 60]) {
      const hex = luaNumber(x);
      const [, sign, lead, frac = '', exp] = /^(-?)0x([01])(?:\.([0-9a-f]+))?p(-?\d+)$/.exec(hex) ?? [];
      const mantissa = Number.parseInt(`${lead}${frac}`, 16) / 16 ** frac.length;
      expect(Number(`${sign}1`) * mantissa * 2 ** Number(exp)).toBe(x);
    }
  });
});
