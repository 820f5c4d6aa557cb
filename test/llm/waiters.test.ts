import type Anthropic from '@anthropic-ai/sdk';
import { ClaudeRateLimiter, type ClaudeRateLimiterOptions } from '@tollgate/llm';
import { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { FakeClaude, reply } from '../helpers/fake-claude.js';
import { REDIS_URL, redis, uniquePrefix } from '../helpers/redis.js';
import { collectingLogger, params, sdk } from './support.js';

/**
 * Calls waiting for room are woken when a reservation gives tokens back (refunded, or settled
 * below its estimate), at once in the process and within a poll interval across processes
 * sharing Redis, and are admitted in the order they arrived. Through the real SDK at the fake API.
 */

const MODEL = 'claude-sonnet-5';
/** The limits the issue's figures were taken with (the old defaults; every request may go at once). */
const OLD_DEFAULTS = { '*': { rpm: 50, itpm: 30_000, otpm: 8_000, burst: { rpm: 50 } } };
const figures: string[] = [];
/** Redis clients the cross-process tests made, closed after the file. */
const clients: Redis[] = [];

function limiter(options: ClaudeRateLimiterOptions = {}) {
  return new ClaudeRateLimiter({ limits: OLD_DEFAULTS, logger: collectingLogger().logger, ...options });
}

/** Settles every promise; returns how long each took (ms) and whether it resolved. */
async function timedAll(started: number, calls: Promise<unknown>[]) {
  return Promise.all(
    calls.map((call) =>
      call.then(
        () => ({ ok: true as const, ms: Date.now() - started, error: undefined }),
        (error: Error & { retryAfter?: number }) => ({ ok: false as const, ms: Date.now() - started, error }),
      ),
    ),
  );
}

describe('waiters are woken when tokens come back', () => {
  let fake: FakeClaude;
  let anthropic: Anthropic;
  beforeAll(async () => {
    fake = await FakeClaude.start();
    anthropic = sdk(fake.url);
  });
  afterEach(() => fake.clear());
  afterAll(async () => {
    await Promise.all(clients.splice(0).map((c) => c.quit()));
    await fake.close();
    // Reported, not asserted: wall-clock figures on a shared machine are not a test.
    console.log(`waiters (issue 15 item 3):\n${figures.join('\n')}`);
  });

  it('two calls with a 60,000-character prompt: the second goes once the first gave its tokens back', async () => {
    const claude = limiter();
    const request = {
      model: MODEL,
      max_tokens: 100,
      messages: [{ role: 'user' as const, content: 'x'.repeat(60_000) }],
    };
    // The first call reports far fewer tokens than the estimate (about 20,000 of ITPM 30,000).
    fake.enqueue(reply.ok({ input_tokens: 500, output_tokens: 20 }, { delayMs: 400 }), reply.ok());
    const started = Date.now();
    const [first, second] = await timedAll(started, [
      claude.run(MODEL, request, (p) => anthropic.messages.create(p).withResponse()),
      claude.run(MODEL, request, (p) => anthropic.messages.create(p).withResponse()),
    ]);
    figures.push(
      `60,000-char prompt ×2: first done at ${(first?.ms ?? 0) / 1000} s, second at ${(second?.ms ?? 0) / 1000} s`,
    );
    expect(first?.ok && second?.ok).toBe(true);
    const [a, b] = fake.messages();
    // The second waited for the first (it did not fit beside it)…
    expect((b?.at ?? 0) - started).toBeGreaterThanOrEqual(390);
    // …and went when its tokens came back, not after the ~20 s the refill alone takes (was 20.4 s).
    expect((b?.at ?? 0) - (a?.at ?? 0)).toBeLessThan(10_000);
  }, 40_000);

  it('four calls with a 108,000-character cached system prompt at ITPM 30,000 all succeed', async () => {
    const claude = limiter({ limits: { '*': { rpm: 50, itpm: 30_000, otpm: 8_000, burst: { rpm: 50 } } } });
    const request = {
      model: MODEL,
      max_tokens: 100,
      system: [{ type: 'text' as const, text: 'y'.repeat(108_000), cache_control: { type: 'ephemeral' as const } }],
      messages: [{ role: 'user' as const, content: 'Summarise.' }],
    };
    // The cache is warm: the prompt is read from it, which does not count against ITPM.
    fake.setDefaultUsage({ input_tokens: 20, output_tokens: 40, cache_read_input_tokens: 36_000 });
    fake.enqueue(...[1, 2, 3, 4].map(() => reply.ok(undefined, { delayMs: 200 })));
    const started = Date.now();
    const results = await timedAll(
      started,
      [1, 2, 3, 4].map(() => claude.run(MODEL, request, (p) => anthropic.messages.create(p).withResponse())),
    );
    figures.push(
      `108,000-char cached system prompt ×4, ITPM 30,000: ${results.filter((r) => r.ok).length} of 4 succeeded, ` +
        `${results.map((r) => (r.ok ? `ok ${r.ms / 1000} s` : `${r.error?.name} retryAfter ${r.error?.retryAfter}`)).join(', ')}`,
    );
    expect(results.map((r) => r.error?.message)).toEqual([undefined, undefined, undefined, undefined]);
    expect(fake.messages()).toHaveLength(4);
  }, 40_000);

  it('waiters of one process are admitted in the order they came (FIFO)', async () => {
    const claude = limiter({ limits: { '*': { rpm: 1_000, itpm: 60_000, otpm: 1_000_000, burst: { rpm: 1_000 } } } });
    // The whole minute of input is held by a call in flight: everyone after it waits for the refill.
    const held = await claude.checkLimit(MODEL, { inputTokens: 60_000, maxTokens: 1 });
    const calls = [0, 1, 2, 3, 4, 5].map((i) =>
      claude.run(
        MODEL,
        params(MODEL, 10, `call ${i}`),
        (p) => anthropic.messages.create(p),
        // About 100 ms of refill each.
        { inputTokens: 100, waitMs: 20_000 },
      ),
    );
    await Promise.all(calls);
    await held.settle();
    const order = fake.messages().map((m) => (m.body as { messages: { content: string }[] }).messages[0]?.content);
    figures.push(`FIFO: arrival order ${order.join(', ')}`);
    expect(order).toEqual(['call 0', 'call 1', 'call 2', 'call 3', 'call 4', 'call 5']);
  }, 40_000);

  it('a call waits for a reservation in flight that could give its tokens back, even past a full refill', async () => {
    const claude = limiter({ maxWaitMs: 5_000 });
    const first = await claude.checkLimit(MODEL, { inputTokens: 30_000, maxTokens: 1 });
    const started = Date.now();
    const waiting = claude.run(MODEL, params(MODEL, 10, 'hi'), (p) => anthropic.messages.create(p), {
      inputTokens: 29_000,
    });
    setTimeout(() => void first.settle({ input_tokens: 100, output_tokens: 1 }), 300);
    await waiting;
    figures.push(`in-flight refund, 58 s of refill needed: admitted after ${(Date.now() - started) / 1000} s`);
    expect(fake.messages()).toHaveLength(1);
  }, 20_000);

  describe.skipIf(!redis.server)('across processes sharing Redis', () => {
    it('a waiter in one process sees tokens another gave back within the poll interval', async () => {
      const prefix = uniquePrefix('wait');
      const make = () => {
        const client = new Redis(REDIS_URL);
        clients.push(client);
        return limiter({ redis: client, prefix, maxWaitMs: 60_000 });
      };
      const a = make();
      const b = make();
      const held = await a.checkLimit(MODEL, { inputTokens: 30_000, maxTokens: 1 });
      const started = Date.now();
      const waiting = b.run(
        MODEL,
        params(MODEL, 10, 'hi'),
        (p) => anthropic.messages.create(p),
        // 40 s of refill needed, within its deadline: it waits, and polls the store meanwhile.
        { inputTokens: 20_000, waitMs: 60_000 },
      );
      await new Promise((r) => setTimeout(r, 300));
      await held.settle({ input_tokens: 100, output_tokens: 1 });
      const settledAt = Date.now();
      await waiting;
      const arrived = fake.messages()[0]?.at ?? 0;
      figures.push(
        `two processes on Redis: refund at ${(settledAt - started) / 1000} s, other process admitted at ${(arrived - started) / 1000} s (refill alone: 40 s)`,
      );
      // Within the 1 s poll interval and slack, not after the 40 s the refill alone takes.
      expect(arrived - settledAt).toBeLessThan(10_000);
    }, 60_000);
  });
});
