import { describe, expect, it } from 'vitest';
import { MemoryStore } from '../stores/memory-store.js';
import type { Decision } from './decision.js';
import { RateLimiter } from './rate-limiter.js';

describe('waits a caller acts on (issue 13, "Done means": waiting retryAfterMs gets the request admitted)', () => {
  // Found by a search over the accepted option space. The bucket refills between its last write
  // and the refusal; the store then refills from that write, and its rounding fell a hair short
  // of the reported balance's: waiting exactly `retryAfterMs`, or `resetMs`, was refused by one
  // unit in the last place of a balance of hundreds of billions (far more than EPSILON).
  const cases = [
    { max: 424_739_475_177, window: 627_489_854_454, drain: 262_842_611_769, advance: 284 },
    { max: 944_487_769_102, window: 749_780_294_234, drain: 419_150_087_550, advance: 872 },
    { max: 136_705_573_517, window: 979_240_745_155, drain: 136_572_204_346, advance: 10 },
    { max: 809_297_791_260, window: 958_604_374_593, burst: 839_128_234_217, drain: 412_616_813_240, advance: 310 },
    { max: 41_458_176_782, window: 303_185_790_990, burst: 105_617_029_085, drain: 98_898_201_656, advance: 906 },
  ];

  for (const { drain, advance, ...policy } of cases) {
    const capacity = policy.burst ?? policy.max;
    const setup = () => {
      let now = 1_764_000_000_000;
      const limiter = new RateLimiter({ ...policy, store: new MemoryStore({ now: () => now }) });
      expect((limiter.decide('k', drain) as Decision).allowed).toBe(true);
      now += advance;
      const refused = limiter.decide('k', capacity) as Decision;
      expect(refused.allowed).toBe(false);
      return { limiter, refused, wait: (ms: number) => (now += ms) };
    };

    it(`${JSON.stringify(policy)}: waiting retryAfterMs admits the whole capacity`, () => {
      const { limiter, refused, wait } = setup();
      wait(refused.retryAfterMs);
      expect((limiter.decide('k', capacity) as Decision).allowed).toBe(true);
    });

    it(`${JSON.stringify(policy)}: after resetMs the bucket is full`, async () => {
      const { limiter, refused, wait } = setup();
      wait(refused.resetMs);
      expect((await limiter.peek('k')).remaining).toBe(capacity);
    });
  }
});
