import { describe, expect, it } from 'vitest';
import { hashSlot } from './hash-slot.js';

describe('hashSlot', () => {
  it('is the slot Redis Cluster gives a key (CLUSTER KEYSLOT)', () => {
    expect(hashSlot('foo')).toBe(12182);
    expect(hashSlot('bar')).toBe(5061);
    expect(hashSlot('')).toBe(0);
  });

  it('takes a hash tag: the part between the first { and the next }, when not empty', () => {
    expect(hashSlot('{user1000}.following')).toBe(hashSlot('user1000'));
    expect(hashSlot('foo{}{bar}')).not.toBe(hashSlot('bar'));
    expect(hashSlot('foo{{bar}}zap')).toBe(hashSlot('{bar'));
    expect(hashSlot('foo{bar}{zap}')).toBe(hashSlot('bar'));
    expect(hashSlot('ab{}c')).toBe(3342);
    // Checked against a real cluster's CLUSTER KEYSLOT for many more keys in test/redis/coalesced-decisions.test.ts.
  });
});
