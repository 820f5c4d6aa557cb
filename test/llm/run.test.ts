import type Anthropic from '@anthropic-ai/sdk';
import { ErrorCodes, RateLimitExceededError, register, TollgateError } from '@tollgate/core';
import { type ClaudeRateLimiter, PRICES_AS_OF, SpendCapError, type UsageStats } from '@tollgate/llm';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { FakeClaude, reply } from '../helpers/fake-claude.js';
import { backends, collectingLogger, params, rejection, sdk, today } from './support.js';

/**
 * ClaudeRateLimiter.run() driven through the real @anthropic-ai/sdk against a fake Messages API
 * on loopback, once with buckets and ledger in memory and once in a real Redis.
 */

/** Priced as claude-sonnet-4-5 (which the SDK warns is deprecated on every call). */
const SONNET = 'claude-sonnet-4-6';
/** 1,234 input, 2,000 5-min writes, 3,000 1-h writes, 4,000 reads, 567 output. */
const USAGE = {
  input_tokens: 1_234,
  output_tokens: 567,
  cache_read_input_tokens: 4_000,
  cache_creation: { ephemeral_5m_input_tokens: 2_000, ephemeral_1h_input_tokens: 3_000 },
};
/** claude-sonnet-4-6: 1234×3 + 2000×3.75 + 3000×6 + 4000×0.30 + 567×15 = 38,907 µ$ */
const USAGE_MICROS = 38_907;
const USAGE_TOKENS = { input: 1_234, cacheWrite5m: 2_000, cacheWrite1h: 3_000, cacheRead: 4_000, output: 567 };
const NO_TOKENS = { input: 0, cacheWrite5m: 0, cacheWrite1h: 0, cacheRead: 0, output: 0 };

/** Limits roomy enough that only what a test sets up can refuse a call. */
const ROOMY = { rpm: 1_000, itpm: 1_000_000, otpm: 1_000_000, burst: { rpm: 1_000 } };

/** Admits calls until the limiter refuses one; how many it admitted (reservations are kept, never settled). */
async function admitted(
  claude: ClaudeRateLimiter,
  model: string,
  estimate: { inputTokens: number; maxTokens: number },
): Promise<number> {
  for (let n = 0; n < 1_000; n++) {
    try {
      await claude.checkLimit(model, { ...estimate, waitMs: 0 });
    } catch (error) {
      if (error instanceof RateLimitExceededError) return n;
      throw error;
    }
  }
  throw new Error('the limiter never refused');
}

/** tollgate_claude_calls_total{model, outcome} now. */
async function callsMetric(model: string, outcome: string): Promise<number> {
  const metric = register.getSingleMetric('tollgate_claude_calls_total');
  if (metric === undefined) return 0;
  const { values } = await metric.get();
  return values
    .filter((v) => v.labels.model === model && v.labels.outcome === outcome)
    .reduce((n, v) => n + v.value, 0);
}

/** Stats of the only model in the ledger, for the one day of today. */
function modelStats(stats: UsageStats, model: string) {
  return stats.days[0]?.models[model];
}

const all = backends();
let fake: FakeClaude;
let anthropic: Anthropic;

beforeAll(async () => {
  fake = await FakeClaude.start();
  anthropic = sdk(fake.url);
});
beforeEach(() => fake.clear());
afterEach(() => {
  vi.restoreAllMocks();
});
afterAll(async () => {
  await fake.close();
  await Promise.all(all.map((b) => b.close()));
});

for (const backend of all) {
  describe.skipIf(!backend.available)(`ClaudeRateLimiter.run through the real SDK (${backend.name})`, () => {
    describe('success: usage and cost in the ledger', () => {
      it('records the call, every token kind and its exact cost', async () => {
        const claude = backend.make({ limits: { [SONNET]: ROOMY } });
        fake.enqueue(reply.ok(USAGE, { requestId: 'req_success', text: 'Hi!' }));
        const message = await claude.run(SONNET, params(), (p) => anthropic.messages.create(p));
        expect(message.content).toEqual([{ type: 'text', text: 'Hi!' }]);
        expect(message.usage.input_tokens).toBe(1_234);
        expect(fake.calls).toBe(1);
        const sent = fake.messages()[0];
        expect(sent?.body).toEqual(params());
        expect(sent?.headers.authorization ?? sent?.headers['x-api-key']).toMatch(/test/);
        expect(sent?.headers['anthropic-version']).toBeDefined();

        const stats = await claude.getUsageStats({ days: 2 });
        const usage = {
          calls: 1,
          attempts: 1,
          errors: 0,
          unpricedCalls: 0,
          costMicros: USAGE_MICROS,
          costUsd: 0.038907,
          tokens: USAGE_TOKENS,
        };
        const yesterday = new Date(Date.now() - 86_400_000).toISOString().slice(0, 10);
        expect(stats).toEqual({
          ...usage,
          pricesAsOf: PRICES_AS_OF,
          days: [
            { date: today(), ...usage, models: { [SONNET]: usage } },
            {
              date: yesterday,
              calls: 0,
              attempts: 0,
              errors: 0,
              unpricedCalls: 0,
              costMicros: 0,
              costUsd: 0,
              tokens: NO_TOKENS,
              models: {},
            },
          ],
          models: { [SONNET]: usage },
        });
      });

      it('adds calls of several models per model and in the totals', async () => {
        const claude = backend.make({ limits: { '*': ROOMY } });
        fake.enqueue(
          reply.ok(USAGE),
          reply.ok({ input_tokens: 1_000, output_tokens: 2_000 }),
          reply.ok({ input_tokens: 10, output_tokens: 20 }),
        );
        await claude.run(SONNET, params(), (p) => anthropic.messages.create(p));
        await claude.run('claude-haiku-4-5-20251001', params('claude-haiku-4-5-20251001'), (p) =>
          anthropic.messages.create(p),
        );
        await claude.run(SONNET, params(), (p) => anthropic.messages.create(p));
        const stats = await claude.getUsageStats({ days: 1 });
        // haiku-4-5: 1000×1 + 2000×5 = 11,000 µ$; sonnet: 38,907 + 10×3 + 20×15 = 39,237 µ$
        expect(stats.models).toEqual({
          [SONNET]: {
            calls: 2,
            attempts: 2,
            errors: 0,
            unpricedCalls: 0,
            costMicros: 39_237,
            costUsd: 0.039237,
            tokens: { ...USAGE_TOKENS, input: 1_244, output: 587 },
          },
          'claude-haiku-4-5-20251001': {
            calls: 1,
            attempts: 1,
            errors: 0,
            unpricedCalls: 0,
            costMicros: 11_000,
            costUsd: 0.011,
            tokens: { ...NO_TOKENS, input: 1_000, output: 2_000 },
          },
        });
        expect(stats.calls).toBe(3);
        expect(stats.costMicros).toBe(50_237);
        expect(stats.tokens).toEqual({ ...USAGE_TOKENS, input: 2_244, output: 2_587 });
        expect(stats.days).toHaveLength(1);
      });

      it('an unknown model is counted as unpriced, not as free, and logged', async () => {
        const { lines, logger } = collectingLogger();
        const claude = backend.make({ limits: { '*': ROOMY }, logger });
        fake.enqueue(reply.ok({ input_tokens: 100, output_tokens: 50 }));
        await claude.run('claude-mystery-9', params('claude-mystery-9'), (p) => anthropic.messages.create(p));
        const stats = await claude.getUsageStats({ days: 1 });
        expect(stats).toMatchObject({ calls: 1, unpricedCalls: 1, costMicros: 0 });
        expect(stats.models['claude-mystery-9']?.tokens).toEqual({ ...NO_TOKENS, input: 100, output: 50 });
        expect(lines.filter((l) => l.level === 'warn').map((l) => l.fields)).toContainEqual({
          model: 'claude-mystery-9',
        });
      });

      it('a pricing override prices a new model', async () => {
        const pricing = {
          'claude-mystery-9': { input: 1, cacheWrite5m: 2, cacheWrite1h: 3, cacheRead: 0.5, output: 10 },
        };
        const claude = backend.make({ limits: { '*': ROOMY }, pricing });
        fake.enqueue(reply.ok({ input_tokens: 100, output_tokens: 50 }));
        await claude.run('claude-mystery-9', params('claude-mystery-9'), (p) => anthropic.messages.create(p));
        // 100×1 + 50×10
        expect(await claude.getUsageStats({ days: 1 })).toMatchObject({ unpricedCalls: 0, costMicros: 600 });
      });

      it('the same request-id through run counts once', async () => {
        const claude = backend.make({ limits: { '*': ROOMY } });
        fake.enqueue(reply.ok(USAGE, { requestId: 'req_twice' }), reply.ok(USAGE, { requestId: 'req_twice' }));
        await claude.run(SONNET, params(), (p) => anthropic.messages.create(p));
        await claude.run(SONNET, params(), (p) => anthropic.messages.create(p).withResponse());
        expect(fake.calls).toBe(2);
        expect(await claude.getUsageStats({ days: 1 })).toMatchObject({ calls: 1, costMicros: USAGE_MICROS });
      });
    });

    describe('.withResponse(): the buckets follow the server, downwards only', () => {
      // ITPM and OTPM limits differ on purpose: see check-limit.test.ts for equal ones.
      const LIMITS = { [SONNET]: { rpm: 10, itpm: 60_000, otpm: 50_000, burst: { rpm: 10 } } };
      const tiny = { inputTokens: 1, maxTokens: 1 };

      it('returns { data, response } and records its usage', async () => {
        const claude = backend.make({ limits: LIMITS });
        fake.enqueue(reply.ok(USAGE, { requestId: 'req_with_response' }));
        const result = await claude.run(SONNET, params(), (p) => anthropic.messages.create(p).withResponse());
        expect(result.data.usage.output_tokens).toBe(567);
        expect(result.request_id).toBe('req_with_response');
        expect(result.response.status).toBe(200);
        expect(await claude.getUsageStats({ days: 1 })).toMatchObject({ calls: 1, costMicros: USAGE_MICROS });
      });

      it('requests-remaining below what the limiter holds lowers the RPM bucket', async () => {
        const claude = backend.make({ limits: LIMITS });
        fake.enqueue(reply.ok(undefined, { headers: { 'anthropic-ratelimit-requests-remaining': '3' } }));
        await claude.run(SONNET, params(), (p) => anthropic.messages.create(p).withResponse());
        expect(await admitted(claude, SONNET, tiny)).toBe(3);
      });

      it('the same headers without .withResponse() are not seen (control)', async () => {
        const claude = backend.make({ limits: LIMITS });
        fake.enqueue(reply.ok(undefined, { headers: { 'anthropic-ratelimit-requests-remaining': '3' } }));
        await claude.run(SONNET, params(), (p) => anthropic.messages.create(p));
        expect(await admitted(claude, SONNET, tiny)).toBe(9);
      });

      it('a header saying MORE is left than the limiter thinks never raises it', async () => {
        const claude = backend.make({ limits: LIMITS });
        // Use 6 of the 10 requests first, then have the server claim 1,000 are left.
        for (let i = 0; i < 5; i++) await claude.checkLimit(SONNET, tiny);
        fake.enqueue(
          reply.ok(undefined, {
            headers: {
              'anthropic-ratelimit-requests-remaining': '1000',
              'anthropic-ratelimit-input-tokens-remaining': '5000000',
              'anthropic-ratelimit-output-tokens-remaining': '5000000',
            },
          }),
        );
        await claude.run(SONNET, params(), (p) => anthropic.messages.create(p).withResponse());
        expect(await admitted(claude, SONNET, tiny)).toBe(4);
      });

      it('input-tokens-remaining lowers the ITPM bucket', async () => {
        const claude = backend.make({ limits: LIMITS });
        fake.enqueue(reply.ok(undefined, { headers: { 'anthropic-ratelimit-input-tokens-remaining': '2000' } }));
        await claude.run(SONNET, params(), (p) => anthropic.messages.create(p).withResponse());
        // 2,000 input tokens left: two calls of 1,000 (ITPM refills 1 token per ms: not a third).
        expect(await admitted(claude, SONNET, { inputTokens: 1_000, maxTokens: 1 })).toBe(2);
      });

      it('output-tokens-remaining lowers the OTPM bucket', async () => {
        const claude = backend.make({ limits: LIMITS });
        // An output of 1,000 makes 1,000 the typical output that later calls reserve.
        fake.enqueue(
          reply.ok({ output_tokens: 1_000 }, { headers: { 'anthropic-ratelimit-output-tokens-remaining': '3000' } }),
        );
        await claude.run(SONNET, params(SONNET, 2_000), (p) => anthropic.messages.create(p).withResponse());
        expect(await admitted(claude, SONNET, { inputTokens: 1, maxTokens: 1_000 })).toBe(3);
      });

      it("an error response's headers lower the buckets too", async () => {
        const claude = backend.make({ limits: LIMITS, retry: { maxRetries: 0 } });
        fake.enqueue({ ...reply.rateLimited(), headers: { 'anthropic-ratelimit-requests-remaining': '0' } });
        const error = await rejection(claude.run(SONNET, params(), (p) => anthropic.messages.create(p)));
        expect(error.status).toBe(429);
        expect(await admitted(claude, SONNET, tiny)).toBe(0);
      });
    });

    describe('retries', () => {
      it('a 429 with retry-after: 1 is retried after 1 s (the server wins over backoff)', async () => {
        const timers = vi.spyOn(globalThis, 'setTimeout');
        // A huge backoff: had retry-after been ignored, the wait would be random up to 10 minutes.
        const claude = backend.make({ limits: { '*': ROOMY }, retry: { baseMs: 600_000, capMs: 600_000 } });
        fake.enqueue(reply.rateLimited({ retryAfter: 1 }), reply.ok(USAGE));
        const message = await claude.run(SONNET, params(), (p) => anthropic.messages.create(p));
        expect(message.usage.output_tokens).toBe(567);
        expect(fake.calls).toBe(2);
        expect(timers.mock.calls.map((c) => c[1])).toContain(1_000);
        // One call of two attempts: the retried 429 is an attempt, not a call nor an error.
        expect(await claude.getUsageStats({ days: 1 })).toMatchObject({
          calls: 1,
          attempts: 2,
          errors: 0,
          costMicros: USAGE_MICROS,
          tokens: USAGE_TOKENS,
        });
      });

      it('retry-after-ms wins over retry-after', async () => {
        const timers = vi.spyOn(globalThis, 'setTimeout');
        const claude = backend.make({ limits: { '*': ROOMY }, retry: { baseMs: 600_000, capMs: 600_000 } });
        fake.enqueue(reply.rateLimited({ retryAfter: 30, retryAfterMs: 7 }), reply.ok());
        await claude.run(SONNET, params(), (p) => anthropic.messages.create(p));
        expect(fake.calls).toBe(2);
        const waits = timers.mock.calls.map((c) => c[1]);
        expect(waits).toContain(7);
        expect(waits).not.toContain(30_000);
      });

      it('a 429 without retry-after is retried with backoff', async () => {
        const claude = backend.make({ limits: { '*': ROOMY }, retry: { baseMs: 1, capMs: 2 } });
        fake.enqueue(reply.rateLimited(), reply.ok());
        await claude.run(SONNET, params(), (p) => anthropic.messages.create(p));
        expect(fake.calls).toBe(2);
      });

      it('529, 429, 200: one call of 3 attempts, 2 retried errors, one success in the metric (was: 3 calls, 2 errors)', async () => {
        const claude = backend.make({ limits: { '*': ROOMY }, retry: { baseMs: 1, capMs: 4 } });
        const success = await callsMetric(SONNET, 'success');
        const error = await callsMetric(SONNET, 'error');
        fake.enqueue(reply.overloaded(), reply.rateLimited({ retryAfterMs: 1 }), reply.ok(USAGE));
        const message = await claude.run(SONNET, params(), (p) => anthropic.messages.create(p));
        expect(message.type).toBe('message');
        expect(fake.calls).toBe(3);
        const stats = await claude.getUsageStats({ days: 1 });
        expect(stats).toMatchObject({ calls: 1, attempts: 3, errors: 0, costMicros: USAGE_MICROS });
        expect(stats.attempts - stats.calls).toBe(2);
        expect(await callsMetric(SONNET, 'success')).toBe(success + 1);
        expect(await callsMetric(SONNET, 'error')).toBe(error);
      });

      it('529 backoff waits as the SDK does: 0.5 s then 1 s, less at most 25% (was: full jitter, gaps of 98 ms)', async () => {
        const claude = backend.make({ limits: { '*': ROOMY } });
        fake.enqueue(reply.overloaded(), reply.overloaded(), reply.ok(USAGE));
        await claude.run(SONNET, params(), (p) => anthropic.messages.create(p));
        const at = fake.messages().map((r) => r.at);
        expect(at).toHaveLength(3);
        const gaps = [(at[1] as number) - (at[0] as number), (at[2] as number) - (at[1] as number)];
        // Timers may fire late, never early: the lower bounds are what the SDK guarantees.
        expect(gaps[0]).toBeGreaterThanOrEqual(375);
        expect(gaps[1]).toBeGreaterThanOrEqual(750);
      });

      it.each([408, 409, 500, 502, 503, 504])('%i is retried', async (status) => {
        const claude = backend.make({ limits: { '*': ROOMY }, retry: { baseMs: 1, capMs: 1 } });
        fake.enqueue(reply.status(status), reply.ok());
        await claude.run(SONNET, params(), (p) => anthropic.messages.create(p));
        expect(fake.calls).toBe(2);
      });

      it.each([400, 401, 403, 404, 413, 422])('%i is never retried', async (status) => {
        const claude = backend.make({ limits: { '*': ROOMY }, retry: { baseMs: 1, capMs: 1 } });
        fake.enqueue(reply.status(status), reply.ok());
        const error = await rejection(claude.run(SONNET, params(), (p) => anthropic.messages.create(p)));
        expect(error.status).toBe(status);
        expect(fake.calls).toBe(1);
        expect(fake.pending).toBe(1);
        expect(await claude.getUsageStats({ days: 1 })).toMatchObject({ calls: 1, errors: 1, costMicros: 0 });
      });

      it('x-should-retry: false stops the retry of a 529', async () => {
        const claude = backend.make({ limits: { '*': ROOMY }, retry: { baseMs: 1, capMs: 1 } });
        fake.enqueue(reply.overloaded({ 'x-should-retry': 'false' }), reply.ok());
        const error = await rejection(claude.run(SONNET, params(), (p) => anthropic.messages.create(p)));
        expect(error.status).toBe(529);
        expect(error.constructor.name).toBe('OverloadedError');
        expect(fake.calls).toBe(1);
      });

      it('x-should-retry: false stops the retry of a 429 with retry-after', async () => {
        const claude = backend.make({ limits: { '*': ROOMY }, retry: { baseMs: 1, capMs: 1 } });
        fake.enqueue({ ...reply.rateLimited({ retryAfterMs: 1 }), headers: { 'x-should-retry': 'false' } }, reply.ok());
        await rejection(claude.run(SONNET, params(), (p) => anthropic.messages.create(p)));
        expect(fake.calls).toBe(1);
      });

      it('x-should-retry: true makes a 400 retryable', async () => {
        const claude = backend.make({ limits: { '*': ROOMY }, retry: { baseMs: 1, capMs: 1 } });
        fake.enqueue(reply.status(400, { 'x-should-retry': 'true' }), reply.ok());
        await claude.run(SONNET, params(), (p) => anthropic.messages.create(p));
        expect(fake.calls).toBe(2);
      });

      it('maxRetries is respected: 1 call + 2 retries, then the last error', async () => {
        const claude = backend.make({ limits: { '*': ROOMY }, retry: { maxRetries: 2, baseMs: 1, capMs: 1 } });
        fake.enqueue(reply.overloaded(), reply.overloaded(), reply.overloaded(), reply.overloaded(), reply.ok());
        const error = await rejection(claude.run(SONNET, params(), (p) => anthropic.messages.create(p)));
        expect(error.status).toBe(529);
        expect(fake.calls).toBe(3);
        expect(await claude.getUsageStats({ days: 1 })).toMatchObject({ calls: 1, attempts: 3, errors: 1 });
      });

      it('maxRetries: 0 makes one call', async () => {
        const claude = backend.make({ limits: { '*': ROOMY }, retry: { maxRetries: 0 } });
        fake.enqueue(reply.overloaded(), reply.ok());
        await rejection(claude.run(SONNET, params(), (p) => anthropic.messages.create(p)));
        expect(fake.calls).toBe(1);
      });

      it('a failed attempt gives its reserved tokens back (only the request is spent)', async () => {
        const claude = backend.make({
          limits: { [SONNET]: { rpm: 10, itpm: 60_000, otpm: 50_000, burst: { rpm: 10 } } },
          retry: { maxRetries: 0 },
        });
        fake.enqueue(reply.status(500));
        await rejection(claude.run(SONNET, params(), (p) => anthropic.messages.create(p), { inputTokens: 60_000 }));
        // Had the 60,000 input tokens stayed reserved, no call of 30,000 could pass for 30 s.
        expect(await admitted(claude, SONNET, { inputTokens: 30_000, maxTokens: 1 })).toBe(2);
      });
    });

    describe('spend cap: a circuit that refuses without calling the server', () => {
      it.each(['enforced_spend_limit_reached', 'contract_spend_limit_reached'] as const)(
        '%s → SpendCapError, and later calls never reach the server',
        async (code) => {
          const { lines, logger } = collectingLogger();
          const claude = backend.make({ limits: { '*': ROOMY }, retry: { baseMs: 1, capMs: 1 }, logger });
          fake.enqueue(reply.spendCap(code), reply.ok(), reply.ok());
          const error = await rejection(claude.run(SONNET, params(), (p) => anthropic.messages.create(p)));
          expect(error).toBeInstanceOf(SpendCapError);
          expect(error.code).toBe(ErrorCodes.SPEND_CAP_REACHED);
          expect(error.code).toBe('TOLLGATE_SPEND_CAP_REACHED');
          expect(error.errorCode).toBe(code);
          const now = new Date();
          const nextMonth = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth() + 1, 1));
          expect((error as unknown as SpendCapError).until).toEqual(nextMonth);
          expect((error.cause as { status?: number }).status).toBe(429);
          expect(error.message).toContain(code);
          expect(fake.calls).toBe(1);
          expect(lines.some((l) => l.level === 'error')).toBe(true);

          const again = await rejection(claude.run(SONNET, params(), (p) => anthropic.messages.create(p)));
          expect(again).toBeInstanceOf(SpendCapError);
          expect(again.errorCode).toBe(code);
          const direct = await rejection(claude.checkLimit('claude-haiku-4-5'));
          expect(direct).toBeInstanceOf(SpendCapError);
          expect(fake.calls).toBe(1);
          expect(fake.pending).toBe(2);
        },
      );

      it('a plain rate 429 does not open the circuit', async () => {
        const claude = backend.make({ limits: { '*': ROOMY }, retry: { maxRetries: 0 } });
        fake.enqueue(reply.rateLimited({ retryAfterMs: 1 }), reply.ok());
        await rejection(claude.run(SONNET, params(), (p) => anthropic.messages.create(p)));
        await claude.run(SONNET, params(), (p) => anthropic.messages.create(p));
        expect(fake.calls).toBe(2);
      });
    });

    describe('ramp 429', () => {
      const LIMITS = { [SONNET]: { rpm: 20, itpm: 600_000, otpm: 600_000, burst: { rpm: 20 } } };
      const tiny = { inputTokens: 1, maxTokens: 1 };

      it('is retried after its retry-after, then succeeds', async () => {
        const claude = backend.make({ limits: LIMITS, retry: { baseMs: 600_000, capMs: 600_000 } });
        fake.enqueue(reply.ramp({ retryAfterMs: 5 }), reply.ok(USAGE));
        const message = await claude.run(SONNET, params(), (p) => anthropic.messages.create(p));
        expect(message.usage.input_tokens).toBe(1_234);
        expect(fake.calls).toBe(2);
        expect(await claude.getUsageStats({ days: 1 })).toMatchObject({
          calls: 1,
          attempts: 2,
          errors: 0,
          costMicros: USAGE_MICROS,
        });
      });

      it('halves the admission rate: each call then costs two requests', async () => {
        // No retry-after: a 429 that gives one also pauses the whole family (family-pause.test.ts).
        const claude = backend.make({ limits: LIMITS, retry: { baseMs: 1, capMs: 1 } });
        fake.enqueue(reply.ramp(), reply.ok());
        await claude.run(SONNET, params(), (p) => anthropic.messages.create(p));
        // 20 − 1 (the ramped attempt) − ~2 (the retry, at half rate) ≈ 17 left, at ~2 per call.
        expect(await admitted(claude, SONNET, tiny)).toBe(8);
      });

      it('without a ramp the same budget admits twice as many (control)', async () => {
        const claude = backend.make({ limits: LIMITS, retry: { baseMs: 1, capMs: 1 } });
        fake.enqueue(reply.rateLimited(), reply.ok());
        await claude.run(SONNET, params(), (p) => anthropic.messages.create(p));
        expect(await admitted(claude, SONNET, tiny)).toBe(18);
      });

      it('recovers to the full rate after rampRecoveryMs', async () => {
        const claude = backend.make({ limits: LIMITS, rampRecoveryMs: 200, retry: { baseMs: 1, capMs: 1 } });
        fake.enqueue(reply.ramp(), reply.ok());
        await claude.run(SONNET, params(), (p) => anthropic.messages.create(p));
        await new Promise((r) => setTimeout(r, 250));
        expect(await admitted(claude, SONNET, tiny)).toBeGreaterThanOrEqual(17);
      });
    });

    describe('bad usage corrupts nothing', () => {
      const bad: ReadonlyArray<readonly [string, unknown]> = [
        ['negative input', { input_tokens: -1, output_tokens: 5 }],
        ['fractional output', { input_tokens: 1, output_tokens: 2.5 }],
        ['string count', { input_tokens: '10', output_tokens: 5 }],
        ['missing output', { input_tokens: 10 }],
        ['negative cache read', { input_tokens: 1, output_tokens: 1, cache_read_input_tokens: -7 }],
        [
          'negative 1-hour write',
          {
            input_tokens: 1,
            output_tokens: 1,
            cache_creation: { ephemeral_5m_input_tokens: 0, ephemeral_1h_input_tokens: -1 },
          },
        ],
        ['a null usage block', null],
        ['a usage string', 'lots'],
      ];

      it.each(bad)('recordUsage with %s throws TOLLGATE_INVALID_USAGE; the ledger is unchanged', async (_l, usage) => {
        const claude = backend.make();
        await claude.recordUsage(SONNET, USAGE, { requestId: 'req_good' });
        const before = await claude.getUsageStats({ days: 2 });
        const error = await rejection(claude.recordUsage(SONNET, usage as never, { requestId: 'req_bad' }));
        expect(error).toBeInstanceOf(TollgateError);
        expect(error.code).toBe(ErrorCodes.INVALID_USAGE);
        expect(await claude.getUsageStats({ days: 2 })).toEqual(before);
        // The bad call's request id was not burnt: a corrected record is accepted.
        await claude.recordUsage(SONNET, { input_tokens: 1, output_tokens: 1 }, { requestId: 'req_bad' });
        expect((await claude.getUsageStats({ days: 1 })).calls).toBe(2);
      });

      it('a malformed usage block from the server: run throws, the ledger is unchanged', async () => {
        const claude = backend.make({ limits: { '*': ROOMY } });
        await claude.recordUsage(SONNET, USAGE);
        const before = await claude.getUsageStats({ days: 1 });
        fake.enqueue(reply.ok({ input_tokens: -40, output_tokens: 3 }));
        const error = await rejection(claude.run(SONNET, params(), (p) => anthropic.messages.create(p)));
        expect(error.code).toBe(ErrorCodes.INVALID_USAGE);
        expect(fake.calls).toBe(1);
        expect(await claude.getUsageStats({ days: 1 })).toEqual(before);
      });
    });

    describe('admin: status and reset of a family', () => {
      it('status(model) peeks at the family buckets; reset(model) fills them again in the store', async () => {
        const limits = { [SONNET]: { rpm: 60, itpm: 1_000, otpm: 10_000, burst: { rpm: 60 } } };
        const claude = backend.make({ limits });
        fake.enqueue(reply.ok({ input_tokens: 900, output_tokens: 60 }));
        await claude.run(SONNET, params(), (p) => anthropic.messages.create(p), { inputTokens: 900 });
        const status = await claude.status(SONNET);
        expect(status).toMatchObject({
          model: SONNET,
          family: SONNET,
          rpm: { limit: 60, capacity: 60, remaining: 59 },
          itpm: { limit: 1_000, capacity: 1_000 },
          otpm: { limit: 10_000, capacity: 10_000 },
        });
        // 900 charged; a few tokens refill while the test runs (1,000 a minute).
        expect(status.itpm.remaining).toBeGreaterThanOrEqual(100);
        expect(status.itpm.remaining).toBeLessThan(130);
        expect(status.itpm.resetMs).toBeGreaterThan(45_000);
        expect((await claude.status(SONNET)).otpm.remaining).toBeGreaterThanOrEqual(9_940);
        await claude.reset(SONNET);
        expect((await claude.status(SONNET)).itpm).toMatchObject({ remaining: 1_000, resetMs: 0 });
        expect((await rejection(claude.status(''))).code).toBe(ErrorCodes.INVALID_MODEL);
      });
    });

    describe('bad model ids', () => {
      it.each([undefined, 42, '', null, { id: 'x' }, 'claude sonnet', 'x'.repeat(65), '__proto__', 'constructor'])(
        'run(%j) throws TOLLGATE_INVALID_MODEL and calls nothing (was: a TypeError, or recorded as "invalid-model-id")',
        async (model) => {
          const claude = backend.make();
          const error = await rejection(claude.run(model as string, params(), (p) => anthropic.messages.create(p)));
          expect(error).toBeInstanceOf(TollgateError);
          expect(error.code).toBe(ErrorCodes.INVALID_MODEL);
          expect(fake.calls).toBe(0);
          expect((await rejection(claude.checkLimit(model as string))).code).toBe(ErrorCodes.INVALID_MODEL);
          expect((await rejection(claude.recordUsage(model as string, USAGE))).code).toBe(ErrorCodes.INVALID_MODEL);
          expect((await claude.getUsageStats({ days: 1 })).calls).toBe(0);
        },
      );
    });

    describe('recordUsage', () => {
      it('returns the cost in USD and prices batch calls at half', async () => {
        const claude = backend.make();
        expect(await claude.recordUsage(SONNET, USAGE)).toBe(0.038907);
        expect(await claude.recordUsage(SONNET, USAGE, { batch: true })).toBe(0.019454);
        expect(await claude.getUsageStats({ days: 1 })).toMatchObject({ calls: 2, costMicros: 58_361 });
      });

      it('the same request-id recorded twice counts once', async () => {
        const claude = backend.make();
        await claude.recordUsage(SONNET, USAGE, { requestId: 'req_dup' });
        await claude.recordUsage(SONNET, USAGE, { requestId: 'req_dup' });
        await claude.recordUsage(SONNET, USAGE, { requestId: 'req_other' });
        const stats = await claude.getUsageStats({ days: 1 });
        expect(modelStats(stats, SONNET)).toEqual({
          calls: 2,
          attempts: 2,
          errors: 0,
          unpricedCalls: 0,
          costMicros: 2 * USAGE_MICROS,
          costUsd: 0.077814,
          tokens: {
            input: 2_468,
            cacheWrite5m: 4_000,
            cacheWrite1h: 6_000,
            cacheRead: 8_000,
            output: 1_134,
          },
        });
      });

      it('a call recorded by hand counts in tollgate_claude_calls_total (was: invisible to the error ratio)', async () => {
        const claude = backend.make();
        const success = await callsMetric(SONNET, 'success');
        const error = await callsMetric(SONNET, 'error');
        await claude.recordUsage(SONNET, USAGE);
        await claude.recordUsage(SONNET, { input_tokens: 0, output_tokens: 0 }, { success: false, attempts: 3 });
        expect(await callsMetric(SONNET, 'success')).toBe(success + 1);
        expect(await callsMetric(SONNET, 'error')).toBe(error + 1);
        expect(await claude.getUsageStats({ days: 1 })).toMatchObject({ calls: 2, attempts: 4, errors: 1 });
      });

      it('success: false counts an error', async () => {
        const claude = backend.make();
        await claude.recordUsage(SONNET, { input_tokens: 0, output_tokens: 0 }, { success: false });
        expect(await claude.getUsageStats({ days: 1 })).toMatchObject({ calls: 1, errors: 1, costMicros: 0 });
      });

      it('getUsageStats refuses a days outside 1–31', async () => {
        const claude = backend.make();
        for (const days of [0, 32, 1.5, -1]) {
          expect((await rejection(claude.getUsageStats({ days }))).code).toBe(ErrorCodes.INVALID_OPTION);
        }
        expect((await claude.getUsageStats({ days: 31 })).days).toHaveLength(31);
        expect((await claude.getUsageStats()).days).toHaveLength(7);
      });
    });
  });
}
