import { describe, expect, it } from 'vitest';
import { createPolicy } from '../limiter/policy.js';
import { decodeBuckets, encodeBuckets, legacyHashIds, parsePolicyId, policyId } from './bucket-codec.js';

describe('the stored bucket codec', () => {
  it('writes little-endian doubles (expiry, since, tokens), then the ids joined by "," (pinned layout)', () => {
    const bytes = encodeBuckets({ expires: 1, since: 2, tokens: [0.5, 3], ids: ['10-1000-10', '5-60000-5'] });
    expect(bytes.toString('hex')).toBe(
      `000000000000f03f` +
        `0000000000000040` +
        `000000000000e03f` +
        `0000000000000840` +
        Buffer.from('10-1000-10,5-60000-5').toString('hex'),
    );
  });

  it('reads back what it writes, for one bucket or many', () => {
    for (const n of [1, 2, 3, 17]) {
      const state = {
        expires: 1_733_000_060_000,
        since: 1_733_000_000_000.25,
        tokens: Array.from({ length: n }, (_, i) => i / 3),
        ids: Array.from({ length: n }, (_, i) => `${i + 1}-1000-${i + 1}`),
      };
      expect(decodeBuckets(encodeBuckets(state))).toEqual(state);
    }
  });

  it('reads from any Uint8Array view, not only a whole Buffer', () => {
    const bytes = encodeBuckets({ expires: 9, since: 8, tokens: [7], ids: ['1-1-1'] });
    const view = new Uint8Array([0xaa, ...bytes, 0xbb]).subarray(1, 1 + bytes.length);
    expect(decodeBuckets(view)).toEqual({ expires: 9, since: 8, tokens: [7], ids: ['1-1-1'] });
  });

  it('counts the buckets as the script does, also when a double looks like ids', () => {
    // Tokens whose bytes are all letters: after one double, 'abcdefgh' + '1-1-1,2-2-2' reads as
    // two ids where one was looked for, so the count goes on to two.
    const letters = Buffer.from('abcdefgh').readDoubleLE(0);
    const state = { expires: 1, since: 2, tokens: [3, letters], ids: ['1-1-1', '2-2-2'] };
    expect(decodeBuckets(encodeBuckets(state))).toEqual(state);
  });

  it('is undefined for what is not a bucket set', () => {
    const ids = (spec: string) => Buffer.concat([Buffer.alloc(24), Buffer.from(spec, 'latin1')]);
    expect(decodeBuckets(Buffer.alloc(0))).toBeUndefined();
    expect(decodeBuckets(Buffer.alloc(24))).toBeUndefined(); // no ids
    expect(decodeBuckets(Buffer.from('hello world'))).toBeUndefined();
    expect(decodeBuckets(ids('a b'))).toBeUndefined();
    expect(decodeBuckets(ids('a,,b'))).toBeUndefined();
    expect(decodeBuckets(ids('a,b'))).toBeUndefined(); // two ids, one double of tokens
    expect(decodeBuckets(ids('é'))).toBeUndefined();
  });

  it('names a policy by max, window and capacity, as createPolicy does, and reads the name back', () => {
    const policy = createPolicy({ max: 100, window: '1m', burst: 150 });
    expect(policy.id).toBe('100-60000-150');
    expect(policyId(policy)).toBe(policy.id);
    expect(parsePolicyId(policy.id)).toEqual({ max: 100, windowMs: 60_000, capacity: 150 });
    expect(parsePolicyId('100-60000')).toBeUndefined();
    expect(parsePolicyId('100-1m-100')).toBeUndefined();
  });

  it('finds the ids of an older tollgate hash: every field but ts', () => {
    expect(legacyHashIds({ ts: '1', '10-1000-10': '3', '5-60000-5': '1' })).toEqual(['10-1000-10', '5-60000-5']);
  });
});
