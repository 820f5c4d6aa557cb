import { ErrorCodes, InvalidOptionError, MemoryStore, RateLimitExceededError } from '@tollgate/core';
import { ClaudeRateLimiter } from '@tollgate/llm';
import { afterAll, describe, expect, it } from 'vitest';
import { backends, rejection } from './support.js';

/**
 * checkLimit: RPM, ITPM and OTPM admitted together or not at all, waiting up to a deadline,
 * reservations settled to the real usage. Memory and real Redis.
 */

const SONNET = 'claude-sonnet-4-5';
/** Distinct limits per bucket; equal ones have a test of their own. Both requests may go at once. */
const SMALL = { [SONNET]: { rpm: 2, itpm: 1_000, otpm: 1_500, burst: { rpm: 2 } } };
/** Refills one input token per millisecond: waits of tens of ms. */
const FAST = { [SONNET]: { rpm: 100, itpm: 60_000, otpm: 50_000 } };

const all = backends();
afterAll(async () => {
  await Promise.all(all.map((b) => b.close()));
});

for (const backend of all) {
  describe.skipIf(!backend.available)(`ClaudeRateLimiter.checkLimit (${backend.name})`, () => {
    it('ITPM: with 1,000 per minute, a second call of 600 input tokens is refused', async () => {
      const claude = backend.make({ limits: SMALL });
      const first = await claude.checkLimit(SONNET, { inputTokens: 600, maxTokens: 10, waitMs: 0 });
      expect(first).toMatchObject({ model: SONNET, family: SONNET, inputTokens: 600, outputTokens: 10 });
      const error = await rejection(claude.checkLimit(SONNET, { inputTokens: 600, maxTokens: 10, waitMs: 0 }));
      expect(error).toBeInstanceOf(RateLimitExceededError);
      expect(error.code).toBe(ErrorCodes.RATE_LIMITED);
      const refused = error as unknown as RateLimitExceededError;
      // 200 tokens short at 1,000 per minute: about 12 s (13 on Redis, which rounds a wait up past
      // the few ms its clock estimate may lag, so that waiting it is enough).
      expect(refused.retryAfter).toBeGreaterThanOrEqual(11);
      expect(refused.retryAfter).toBeLessThanOrEqual(13);
      expect(refused.decision.policies.map((p) => p.allowed)).toEqual([true, false, true]);
      expect(refused.decision.allowed).toBe(false);
    });

    it('ITPM and OTPM with EQUAL limits are still two buckets', async () => {
      // Policies of equal max and window have equal ids; a store that keys buckets by policy id
      // (RedisStore's hash fields) must still keep RPM, ITPM and OTPM apart.
      const claude = backend.make({ limits: { [SONNET]: { rpm: 2, itpm: 1_000, otpm: 1_000, burst: { rpm: 2 } } } });
      await claude.checkLimit(SONNET, { inputTokens: 600, maxTokens: 10, waitMs: 0 });
      const error = await rejection(claude.checkLimit(SONNET, { inputTokens: 600, maxTokens: 10, waitMs: 0 }));
      expect(error).toBeInstanceOf(RateLimitExceededError);
      expect((error as unknown as RateLimitExceededError).decision.policies.map((p) => p.allowed)).toEqual([
        true,
        false,
        true,
      ]);
    });

    it('RPM and OTPM with equal limits are still two buckets', async () => {
      const claude = backend.make({ limits: { [SONNET]: { rpm: 1_000, itpm: 5_000, otpm: 1_000 } } });
      // 1 request and 900 output tokens: 999 requests and 100 output tokens left.
      await claude.checkLimit(SONNET, { inputTokens: 1, maxTokens: 900, waitMs: 0 });
      await claude.checkLimit(SONNET, { inputTokens: 1, maxTokens: 100, waitMs: 0 });
      const error = await rejection(claude.checkLimit(SONNET, { inputTokens: 1, maxTokens: 50, waitMs: 0 }));
      expect((error as unknown as RateLimitExceededError).decision.policies.map((p) => p.allowed)).toEqual([
        true,
        true,
        false,
      ]);
    });

    it('a refused call debits nothing: the RPM it would have used is still there', async () => {
      const claude = backend.make({ limits: SMALL });
      await claude.checkLimit(SONNET, { inputTokens: 600, maxTokens: 10, waitMs: 0 });
      await rejection(claude.checkLimit(SONNET, { inputTokens: 600, maxTokens: 10, waitMs: 0 }));
      await rejection(claude.checkLimit(SONNET, { inputTokens: 500, maxTokens: 10, waitMs: 0 }));
      // rpm 2: one request left, since neither refusal took one.
      await claude.checkLimit(SONNET, { inputTokens: 10, maxTokens: 10, waitMs: 0 });
      const error = await rejection(claude.checkLimit(SONNET, { inputTokens: 1, maxTokens: 1, waitMs: 0 }));
      expect((error as unknown as RateLimitExceededError).decision.policies.map((p) => p.allowed)).toEqual([
        false,
        true,
        true,
      ]);
      // a request every 30 s
      expect((error as unknown as RateLimitExceededError).retryAfter).toBeGreaterThanOrEqual(29);
    });

    it('OTPM: output is reserved at max_tokens when that is below the typical output', async () => {
      const claude = backend.make({ limits: SMALL });
      const first = await claude.checkLimit(SONNET, { inputTokens: 1, maxTokens: 800, waitMs: 0 });
      expect(first.outputTokens).toBe(800);
      const error = await rejection(claude.checkLimit(SONNET, { inputTokens: 1, maxTokens: 800, waitMs: 0 }));
      expect((error as unknown as RateLimitExceededError).decision.policies.map((p) => p.allowed)).toEqual([
        true,
        true,
        false,
      ]);
    });

    it('without an input count, input is estimated from the request text', async () => {
      const claude = backend.make({ limits: SMALL });
      const request = { messages: [{ role: 'user', content: 'x'.repeat(1_796) }] };
      // 1,796 letters at 0.3, the keys role/content and 'user' at 0.3, 12 of framing: 556 tokens
      const first = await claude.checkLimit(SONNET, { request, maxTokens: 10, waitMs: 0 });
      expect(first.inputTokens).toBe(556);
      await rejection(claude.checkLimit(SONNET, { request, maxTokens: 10, waitMs: 0 }));
    });

    it('waitMs 0 refuses at once; a deadline long enough waits for the refill and admits', async () => {
      const claude = backend.make({ limits: FAST });
      await claude.checkLimit(SONNET, { inputTokens: 60_000, maxTokens: 1, waitMs: 0 });
      const error = await rejection(claude.checkLimit(SONNET, { inputTokens: 50, maxTokens: 1, waitMs: 0 }));
      expect(error).toBeInstanceOf(RateLimitExceededError);
      expect((error as unknown as RateLimitExceededError).retryAfter).toBe(1);
      // 50 tokens at one per ms: admitted after a short wait.
      const later = await claude.checkLimit(SONNET, { inputTokens: 50, maxTokens: 1, waitMs: 5_000 });
      expect(later.inputTokens).toBe(50);
    });

    it('a deadline shorter than the wait refuses without waiting it out', async () => {
      const claude = backend.make({ limits: SMALL, maxWaitMs: 2_000 });
      const first = await claude.checkLimit(SONNET, { inputTokens: 1_000, maxTokens: 1 });
      // Used in full: nothing in flight could give tokens back before the deadline.
      await first.settle({ input_tokens: 1_000, output_tokens: 1 });
      // About 60 s needed, 2 s allowed by the limiter's maxWaitMs.
      const error = await rejection(claude.checkLimit(SONNET, { inputTokens: 1_000, maxTokens: 1 }));
      expect(error).toBeInstanceOf(RateLimitExceededError);
      expect((error as unknown as RateLimitExceededError).retryAfter).toBeGreaterThanOrEqual(59);
    });

    it('an estimate above a bucket is clamped to its capacity (it can still pass when the bucket is full)', async () => {
      const claude = backend.make({ limits: SMALL });
      const big = await claude.checkLimit(SONNET, { inputTokens: 50_000, maxTokens: 50_000, waitMs: 0 });
      // Input clamped to the ITPM capacity; output reserved at the typical 1,024, not 50,000.
      expect(big).toMatchObject({ inputTokens: 1_000, outputTokens: 1_024 });
      await rejection(claude.checkLimit(SONNET, { inputTokens: 1, maxTokens: 1, waitMs: 0 }));
    });

    it('settle refunds what the call did not use, and cache reads never count against ITPM', async () => {
      const claude = backend.make({ limits: SMALL });
      const r = await claude.checkLimit(SONNET, { inputTokens: 600, maxTokens: 900, waitMs: 0 });
      await r.settle({ input_tokens: 100, output_tokens: 50, cache_read_input_tokens: 500_000 });
      // 900 input and 950 output left.
      await claude.checkLimit(SONNET, { inputTokens: 850, maxTokens: 900, waitMs: 0 });
    });

    it('settle charges what the call used beyond its reservation', async () => {
      const claude = backend.make({ limits: { [SONNET]: { rpm: 10, itpm: 1_000, otpm: 2_000, burst: { rpm: 10 } } } });
      const r = await claude.checkLimit(SONNET, { inputTokens: 100, maxTokens: 100, waitMs: 0 });
      await r.settle({ input_tokens: 100, output_tokens: 100, cache_creation_input_tokens: 800 });
      // 100 + 800 cache writes count against ITPM: 100 left.
      await claude.checkLimit(SONNET, { inputTokens: 100, maxTokens: 1, waitMs: 0 });
      await rejection(claude.checkLimit(SONNET, { inputTokens: 100, maxTokens: 1, waitMs: 0 }));
    });

    it('settle with no usage (a failed call) gives the tokens back; a second settle does nothing', async () => {
      const claude = backend.make({ limits: SMALL });
      const r = await claude.checkLimit(SONNET, { inputTokens: 1_000, maxTokens: 1_000, waitMs: 0 });
      await r.settle();
      await r.settle({ input_tokens: 1_000, output_tokens: 1_000 });
      // Both token buckets are full again; the second settle charged nothing.
      await claude.checkLimit(SONNET, { inputTokens: 1_000, maxTokens: 1_000, waitMs: 0 });
    });

    it('a family shares one budget: Opus 4.5 to 4.8 together', async () => {
      const claude = backend.make({
        limits: { 'claude-opus-4-5+': { rpm: 2, itpm: 10_000, otpm: 10_000, burst: { rpm: 2 } } },
      });
      const r = await claude.checkLimit('claude-opus-4-5', { inputTokens: 1, maxTokens: 1, waitMs: 0 });
      expect(r.family).toBe('claude-opus-4-5+');
      await claude.checkLimit('claude-opus-4-8-20260101', { inputTokens: 1, maxTokens: 1, waitMs: 0 });
      await rejection(claude.checkLimit('claude-opus-4-6', { inputTokens: 1, maxTokens: 1, waitMs: 0 }));
      // Another family has its own budget (the default limits).
      await claude.checkLimit('claude-opus-4-1', { inputTokens: 1, maxTokens: 1, waitMs: 0 });
    });

    it('limits given by model id apply to that model (documented: "by family or model id")', async () => {
      const claude = backend.make({ limits: { 'claude-opus-4-6': { rpm: 1, itpm: 10_000, otpm: 10_000 } } });
      await claude.checkLimit('claude-opus-4-6', { inputTokens: 1, maxTokens: 1, waitMs: 0 });
      const error = await rejection(claude.checkLimit('claude-opus-4-6', { inputTokens: 1, maxTokens: 1, waitMs: 0 }));
      expect(error).toBeInstanceOf(RateLimitExceededError);
    });

    it('a dated model id uses the limits of its base id', async () => {
      const claude = backend.make({ limits: SMALL });
      await claude.checkLimit('claude-sonnet-4-5-20250929', { inputTokens: 600, maxTokens: 1, waitMs: 0 });
      await rejection(claude.checkLimit(SONNET, { inputTokens: 600, maxTokens: 1, waitMs: 0 }));
    });

    it.each([
      ['inputTokens: -1', { inputTokens: -1 }],
      ['inputTokens: 1.5', { inputTokens: 1.5 }],
      ['maxTokens: "10"', { maxTokens: '10' }],
      ['maxTokens: NaN', { maxTokens: Number.NaN }],
    ])('an estimate with %s is refused with TOLLGATE_INVALID_USAGE', async (_l, estimate) => {
      const claude = backend.make({ limits: SMALL });
      const error = await rejection(claude.checkLimit(SONNET, estimate as never));
      expect(error.code).toBe(ErrorCodes.INVALID_USAGE);
    });
  });
}

describe('ClaudeRateLimiter options', () => {
  it.each([
    ['an unknown option', { limts: {} }, ErrorCodes.UNKNOWN_OPTION],
    ['both redis and store', { store: new MemoryStore(), redis: { evalsha() {}, eval() {}, del() {} } }, undefined],
    ['a limit of 0', { limits: { '*': { rpm: 0, itpm: 1, otpm: 1 } } }, undefined],
    ['a missing limit', { limits: { '*': { rpm: 1, itpm: 1 } } }, undefined],
    ['a limit past what a bucket holds exactly', { limits: { '*': { rpm: 1, itpm: 1e12, otpm: 1 } } }, undefined],
    ['an unknown limit', { limits: { '*': { rpm: 1, itpm: 1, otpm: 1, tpm: 1 } } }, ErrorCodes.UNKNOWN_OPTION],
    ['limits that are not an object', { limits: 5 }, undefined],
    ['a negative maxRetries', { retry: { maxRetries: -1 } }, undefined],
    ['a baseMs of 0', { retry: { baseMs: 0 } }, undefined],
    ['a capMs Node would clamp to 1 ms', { retry: { capMs: 2 ** 31 } }, undefined],
    ['an unknown retry option', { retry: { jitter: true } }, ErrorCodes.UNKNOWN_OPTION],
    ['a prefix with a space', { prefix: 'a b' }, undefined],
    ['a store without adjust/lower', { store: { consume() {}, peek() {}, reset() {} } }, undefined],
    ['a bad price', { pricing: { m: { input: -1 } } }, undefined],
  ])('rejects %s', (_l, options, code) => {
    let caught: unknown;
    try {
      new ClaudeRateLimiter(options as never);
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(InvalidOptionError);
    expect((caught as InvalidOptionError).code).toBe(code ?? ErrorCodes.INVALID_OPTION);
  });

  it('accepts no options at all (memory store, default limits)', async () => {
    const claude = new ClaudeRateLimiter();
    const r = await claude.checkLimit(SONNET, { inputTokens: 10 });
    expect(r.outputTokens).toBe(1024);
  });
});

describe('ClaudeRateLimiter limit errors', () => {
  it('name the limit that is out of range, not the policy option behind it', () => {
    expect(() => new ClaudeRateLimiter({ limits: { '*': { rpm: 1, itpm: 1e12, otpm: 1 } } })).toThrow(
      /limits\.\*\.itpm/,
    );
  });
});

describe('ClaudeRateLimiter per-call options', () => {
  it('read own properties only: a polluted Object.prototype sets no tenant, wait or size', async () => {
    const claude = new ClaudeRateLimiter({ limits: { '*': { rpm: 1, itpm: 10_000, otpm: 10_000 } }, maxWaitMs: 0 });
    await claude.checkLimit('claude-sonnet-4-5', { inputTokens: 10, maxTokens: 10 });
    const proto = Object.prototype as Record<string, unknown>;
    proto.waitMs = 2 ** 31 - 1;
    try {
      // With the polluted wait read, the second call would sleep for ~60 s waiting for its request slot.
      await expect(claude.checkLimit('claude-sonnet-4-5', { inputTokens: 10, maxTokens: 10 })).rejects.toBeInstanceOf(
        RateLimitExceededError,
      );
    } finally {
      delete proto.waitMs;
    }
  });

  it.each([2 ** 31, -1, 1.5])('refuses a wait Node cannot time (waitMs %d) with the option named', async (waitMs) => {
    const claude = new ClaudeRateLimiter({});
    await expect(claude.checkLimit('claude-sonnet-4-5', { inputTokens: 1, waitMs })).rejects.toThrow(/waitMs/);
    expect(() => new ClaudeRateLimiter({ maxWaitMs: waitMs })).toThrow(/maxWaitMs/);
  });
});
