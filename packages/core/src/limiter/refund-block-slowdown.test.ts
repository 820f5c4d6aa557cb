import { afterEach, describe, expect, it } from 'vitest';
import { ErrorCodes, InvalidOptionError } from '../errors.js';
import { MemoryStore } from '../stores/memory-store.js';
import type { Store } from '../stores/store.js';
import { RateLimiter } from './rate-limiter.js';

const stores: MemoryStore[] = [];
afterEach(() => {
  for (const s of stores.splice(0)) s.close();
});

function clockStore() {
  const clock = { now: 1_000_000 };
  const store = new MemoryStore({ now: () => clock.now });
  stores.push(store);
  return { clock, store };
}

const quiet = { info() {}, warn() {}, error() {} };

describe('refunds', () => {
  it('refund(key, cost) gives tokens back, never above the capacity', async () => {
    const { store } = clockStore();
    const limiter = new RateLimiter({ max: 5, window: '1h', store });
    for (let i = 0; i < 5; i++) await limiter.consume('k');
    expect((await limiter.consume('k')).allowed).toBe(false);
    expect((await limiter.refund('k', 2)).remaining).toBe(2);
    expect((await limiter.refund('k', 5)).remaining).toBe(5); // capped: 2 + 5 > 5
    expect((await limiter.peek('k')).remaining).toBe(5);
  });

  it('a receipt refunds what its request took, once, and nothing for a refusal', async () => {
    const { store } = clockStore();
    const limiter = new RateLimiter({ max: 3, window: '1h', store });
    const d = await limiter.consume('k', 2);
    const receipt = limiter.receipt('k', 2, d);
    await limiter.consume('k');
    expect(await receipt.refund()).toBe(true);
    expect(await receipt.refund()).toBe(false);
    expect((await limiter.peek('k')).remaining).toBe(2);
    const refused = await limiter.consume('k', 3);
    expect(refused.allowed).toBe(false);
    expect(await limiter.receipt('k', 3, refused).refund()).toBe(false);
    expect((await limiter.peek('k')).remaining).toBe(2);
  });

  it('a refund the store cannot make within timeoutMs rejects with a coded error', async () => {
    const hung: Store = {
      consume: () => ({ allowed: true, tokens: [1] }),
      peek: () => ({ allowed: true, tokens: [1] }),
      reset: () => {},
      adjust: () => new Promise(() => {}),
    };
    const limiter = new RateLimiter({ max: 2, window: '1h', store: hung, timeoutMs: 20, logger: quiet });
    await expect(limiter.refund('k')).rejects.toMatchObject({ code: ErrorCodes.STORE_TIMEOUT });
  });
});

describe('block: { after, within, for }', () => {
  it('3 refusals within 1 s block the client for 10 s, though its bucket refills meanwhile; reset clears it', async () => {
    const { clock, store } = clockStore();
    const limiter = new RateLimiter({ max: 1, window: '1s', store, block: { after: 3, within: '1s', for: '10s' } });
    expect((await limiter.consume('k')).allowed).toBe(true);
    expect((await limiter.consume('k')).allowed).toBe(false);
    expect((await limiter.consume('k')).allowed).toBe(false);
    const third = await limiter.consume('k');
    expect(third.allowed).toBe(false);
    expect(third.retryAfterMs).toBeGreaterThanOrEqual(10_000);
    clock.now += 5000; // the bucket alone would have refilled five times over
    const blocked = await limiter.consume('k');
    expect(blocked.allowed).toBe(false);
    expect(blocked.retryAfterMs).toBeGreaterThanOrEqual(5000);
    clock.now += 5000;
    expect((await limiter.consume('k')).allowed).toBe(true);
    // Again, then an admin reset ends the block.
    for (let i = 0; i < 3; i++) await limiter.consume('k');
    expect((await limiter.consume('k')).retryAfterMs).toBeGreaterThan(9000);
    await limiter.reset('k');
    expect((await limiter.consume('k')).allowed).toBe(true);
  });

  it('refusals further apart than `within` do not block', async () => {
    const { clock, store } = clockStore();
    const limiter = new RateLimiter({ max: 1, window: '1h', store, block: { after: 3, within: '1s', for: '1h' } });
    await limiter.consume('k');
    for (let i = 0; i < 5; i++) {
      expect((await limiter.consume('k')).retryAfterMs).toBeLessThan(3_600_000 + 1);
      clock.now += 600;
    }
    // Each refusal waits for the hourly token only, never for a block on top of it.
    expect((await limiter.consume('k')).retryAfterMs).toBeLessThanOrEqual(3_600_000);
  });

  it('options are validated', () => {
    expect(() => new RateLimiter({ max: 1, window: '1s', block: { after: 0, within: '1s', for: '1m' } })).toThrow(
      InvalidOptionError,
    );
    expect(
      () => new RateLimiter({ max: 1, window: '1s', block: { after: 3, within: '1s', for: '1m', ban: 1 } as never }),
    ).toThrow(/block accepts only/);
  });
});

describe('slow-down: consumeWaiting', () => {
  it('calls beyond the bucket wait their turn for a token, up to maxDelayMs, then are refused', async () => {
    const limiter = new RateLimiter({ max: 1, window: 40, name: 'wait' });
    const results = await Promise.all([0, 1, 2, 3].map(() => limiter.consumeWaiting('k', 1, { maxDelayMs: 100 })));
    const admitted = results.filter((r) => r.decision.allowed);
    // Each token comes 40 ms after the last: within 100 ms, the first at once and two more.
    expect(admitted.length).toBe(3);
    expect(results[0]?.delayMs).toBe(0);
    expect(results[1]?.delayMs).toBeGreaterThanOrEqual(35);
    expect(results[2]?.delayMs).toBeGreaterThanOrEqual(results[1]?.delayMs ?? 0);
    expect(results[3]?.decision.allowed).toBe(false);
    expect(limiter.waiting).toBe(0);
  });

  it('a call whose first refusal already says a longer wait is refused at once', async () => {
    const limiter = new RateLimiter({ max: 1, window: '1h', name: 'wait-long' });
    await limiter.consume('k');
    const r = await limiter.consumeWaiting('k', 1, { maxDelayMs: 1000 });
    expect(r).toMatchObject({ delayMs: 0, aborted: false });
    expect(r.decision.allowed).toBe(false);
  });

  it('a caller that aborts leaves the line, takes nothing, and the next takes its place', async () => {
    const limiter = new RateLimiter({ max: 1, window: 50, name: 'wait-abort' });
    await limiter.consume('k');
    const gone = new AbortController();
    const first = limiter.consumeWaiting('k', 1, { maxDelayMs: 500, signal: gone.signal });
    const second = limiter.consumeWaiting('k', 1, { maxDelayMs: 500 });
    await new Promise((r) => setTimeout(r, 5));
    expect(limiter.waiting).toBe(2);
    gone.abort();
    const a = await first;
    expect(a.aborted).toBe(true);
    const b = await second;
    expect(b.decision.allowed).toBe(true);
    // Waiting held no token: after the one admitted, the bucket is empty, not below.
    const after = await limiter.peek('k');
    expect(after.remaining).toBe(0);
    expect(after.retryAfterMs).toBeLessThanOrEqual(50);
  });
});
