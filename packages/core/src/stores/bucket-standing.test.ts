import { describe, expect, it } from 'vitest';
import { bucketStanding } from './bucket-standing.js';

describe('bucketStanding', () => {
  // 10 per minute: a token every 6 s.
  const capacity = 10;
  const rate = 10 / 60_000;

  it('reads whole tokens, the time to full and the time to one token', () => {
    expect(bucketStanding(2.5, capacity, rate)).toEqual({ remaining: 2, resetMs: 45_000, retryAfterMs: 0 });
    expect(bucketStanding(0.5, capacity, rate)).toEqual({ remaining: 0, resetMs: 57_000, retryAfterMs: 3_000 });
    expect(bucketStanding(capacity, capacity, rate)).toEqual({ remaining: 10, resetMs: 0, retryAfterMs: 0 });
  });

  it('counts a token that rounding left a hair short as there, as the limiter does', () => {
    expect(bucketStanding(1 - 1e-12, capacity, rate)).toMatchObject({ remaining: 1, retryAfterMs: 0 });
  });
});
