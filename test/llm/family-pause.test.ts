import type Anthropic from '@anthropic-ai/sdk';
import { RateLimitExceededError } from '@tollgate/core';
import { ClaudeRateLimiter, type ClaudeRateLimiterOptions } from '@tollgate/llm';
import { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { FakeClaude, reply } from '../helpers/fake-claude.js';
import { REDIS_URL, redis, uniquePrefix } from '../helpers/redis.js';
import { collectingLogger, params, rejection, sdk } from './support.js';

/**
 * A 429's retry-after holds every call of the model's family, in this process and in every
 * process sharing Redis; limits the API reports below the configured ones are used, and its
 * reset times followed. Through the real SDK at the fake API.
 */

const ROOMY = { '*': { rpm: 1_000, itpm: 1_000_000, otpm: 1_000_000, burst: { rpm: 1_000 } } };
const figures: string[] = [];
/** Redis clients the cross-process tests made, closed after the file. */
const clients: Redis[] = [];

function limiter(options: ClaudeRateLimiterOptions = {}) {
  const log = collectingLogger();
  const claude = new ClaudeRateLimiter({ limits: ROOMY, logger: log.logger, ...options });
  return { claude, lines: log.lines };
}

/** Resolves once `lines` has one matching `pattern` (what the limiter says when it pauses). */
async function logged(lines: { message: string }[], pattern: RegExp): Promise<void> {
  for (let i = 0; i < 500 && !lines.some((l) => pattern.test(l.message)); i++) {
    await new Promise((r) => setTimeout(r, 10));
  }
  expect(lines.some((l) => pattern.test(l.message))).toBe(true);
}

describe('a 429 pauses the whole family', () => {
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
    console.log(`family pause and learned limits (issue 15 item 9):\n${figures.join('\n')}`);
  });

  /** How long after the 429 each later request reached the API, in ms. */
  function gapsAfter429(): number[] {
    const all = fake.messages();
    const refused = all.find((m) => m.status === 429);
    if (refused === undefined) throw new Error('no 429 was sent');
    return all.filter((m) => m.at > refused.at).map((m) => m.at - refused.at);
  }

  it('in one process: five other calls of the family wait out the 2 s it asked for', async () => {
    const { claude, lines } = limiter();
    fake.enqueue(reply.rateLimited({ retryAfter: 2 }));
    const first = claude.run('claude-opus-4-6', params('claude-opus-4-6', 10), (p) => anthropic.messages.create(p));
    await logged(lines, /asked to wait/);
    // Other models of the same family (Opus 4.5 to 4.8 share one budget).
    const others = ['claude-opus-4-7', 'claude-opus-4-8', 'claude-opus-4-6', 'claude-opus-4-7', 'claude-opus-4-8'].map(
      (model) => claude.run(model, params(model, 10), (p) => anthropic.messages.create(p)),
    );
    await Promise.all([first, ...others]);
    const gaps = gapsAfter429();
    figures.push(`one process: calls after a 429 asking 2 s reached the API ${gaps.join(', ')} ms after it`);
    expect(gaps).toHaveLength(6);
    // retry-after is whole seconds: the earliest any call may go is 2 s after the 429 was sent.
    expect(Math.min(...gaps)).toBeGreaterThanOrEqual(1_900);
  }, 20_000);

  it('another family is not paused', async () => {
    const { claude, lines } = limiter();
    fake.enqueue(reply.rateLimited({ retryAfter: 2 }));
    const first = claude.run('claude-opus-4-6', params('claude-opus-4-6', 10), (p) => anthropic.messages.create(p));
    await logged(lines, /asked to wait/);
    const started = Date.now();
    await claude.run('claude-sonnet-5', params('claude-sonnet-5', 10), (p) => anthropic.messages.create(p));
    const sonnetAt = fake.messages().find((m) => (m.body as { model: string }).model === 'claude-sonnet-5')?.at ?? 0;
    expect(sonnetAt - started).toBeLessThan(1_500);
    await first;
  }, 20_000);

  describe.skipIf(!redis.server)('across processes sharing Redis', () => {
    it("a 429 in one process pauses the family's calls in another", async () => {
      const prefix = uniquePrefix('pause');
      const make = () => {
        const client = new Redis(REDIS_URL);
        clients.push(client);
        return limiter({ redis: client, prefix });
      };
      const a = make();
      const b = make();
      fake.enqueue(reply.rateLimited({ retryAfter: 2 }));
      const first = a.claude.run('claude-sonnet-5', params('claude-sonnet-5', 10), (p) => anthropic.messages.create(p));
      await logged(a.lines, /asked to wait/);
      const others = [1, 2, 3].map(() =>
        b.claude.run('claude-sonnet-5', params('claude-sonnet-5', 10), (p) => anthropic.messages.create(p)),
      );
      await Promise.all([first, ...others]);
      const gaps = gapsAfter429();
      figures.push(
        `two processes on Redis: calls after a 429 asking 2 s reached the API ${gaps.join(', ')} ms after it`,
      );
      expect(gaps).toHaveLength(4);
      expect(Math.min(...gaps)).toBeGreaterThanOrEqual(1_900);
    }, 20_000);
  });
});

describe('limits learned from the response headers', () => {
  let fake: FakeClaude;
  let anthropic: Anthropic;
  beforeAll(async () => {
    fake = await FakeClaude.start();
    anthropic = sdk(fake.url);
  });
  afterAll(() => fake.close());

  it('a requests limit below the configured one is used (and said once)', async () => {
    const { claude, lines } = limiter();
    fake.setRateLimits({
      requests: { limit: 3, remaining: 3 },
      inputTokens: { limit: 2_000_000, remaining: 2_000_000 },
      outputTokens: { limit: 400_000, remaining: 400_000 },
    });
    const model = 'claude-sonnet-5';
    const call = () =>
      claude.run(model, params(model, 10), (p) => anthropic.messages.create(p).withResponse(), { waitMs: 0 });
    await call();
    await call();
    const refusals = (await Promise.allSettled([call(), call(), call()])).filter((r) => r.status === 'rejected');
    const said = lines.filter(
      (l) => /lower limit than configured/.test(l.message) && (l.fields as { limit?: string }).limit === 'rpm',
    );
    const error = (refusals[0] as PromiseRejectedResult | undefined)?.reason as RateLimitExceededError | undefined;
    figures.push(
      `API says 3 RPM, configured 1,000: ${5 - refusals.length} of 5 admitted, the refused told retryAfter ${error?.retryAfter} s; said ${said.length} time(s)`,
    );
    expect(said).toHaveLength(1);
    expect(said[0]?.fields).toMatchObject({ limit: 'rpm', was: 1_000, now: 3 });
    expect(error).toBeInstanceOf(RateLimitExceededError);
    // A request every 20 s at 3 a minute (at 1,000 a minute it would be under a second).
    expect(error?.retryAfter).toBeGreaterThanOrEqual(15);
  });

  it('the configured limit is used again once the API reports it (or more) again', async () => {
    const { claude, lines } = limiter();
    const model = 'claude-sonnet-5';
    const tokens = { limit: 2_000_000, remaining: 2_000_000 };
    const call = () =>
      claude.run(model, params(model, 10), (p) => anthropic.messages.create(p).withResponse(), { waitMs: 0 });
    fake.setRateLimits({ requests: { limit: 3, remaining: 3 }, inputTokens: tokens, outputTokens: tokens });
    await call();
    fake.setRateLimits({ requests: { limit: 4_000, remaining: 4_000 }, inputTokens: tokens, outputTokens: tokens });
    // Learned 3 a minute: the next call goes (the bucket still holds what it held)…
    await call();
    // …and reports 4,000 again: the configured 1,000 a minute is back, so 20 more go within 5 s
    // (at 3 a minute they would need 6 minutes, and would be refused at once).
    const results = await Promise.allSettled(
      Array.from({ length: 20 }, () =>
        claude.run(model, params(model, 10), (p) => anthropic.messages.create(p).withResponse(), { waitMs: 5_000 }),
      ),
    );
    const admitted = results.filter((r) => r.status === 'fulfilled').length;
    const said = lines.filter((l) => /limit/.test(l.message) && (l.fields as { limit?: string }).limit === 'rpm');
    figures.push(`API says 3 RPM, then 4,000 again (configured 1,000): then ${admitted} of 20 admitted within 5 s`);
    expect(said.map((l) => (l.fields as { now: number }).now)).toEqual([3, 1_000]);
    expect(admitted).toBe(20);
  });

  it('a reset time is followed: a bucket full only in 30 s holds half its minute now', async () => {
    const { claude } = limiter({
      limits: { '*': { rpm: 1_000, itpm: 60_000, otpm: 1_000_000, burst: { rpm: 1_000 } } },
    });
    const model = 'claude-sonnet-5';
    const fullIn30s = new Date(Date.now() + 30_000).toISOString();
    fake.enqueue(
      reply.ok(
        { input_tokens: 10, output_tokens: 10 },
        {
          // The API says nothing of what is left, only when the bucket is full again.
          headers: {
            'anthropic-ratelimit-input-tokens-limit': '60000',
            'anthropic-ratelimit-input-tokens-remaining': null,
            'anthropic-ratelimit-input-tokens-reset': fullIn30s,
          },
        },
      ),
    );
    await claude.run(model, params(model, 10), (p) => anthropic.messages.create(p).withResponse(), { inputTokens: 10 });
    // About 30,000 of 60,000 now: 40,000 does not fit.
    const error = await rejection(claude.checkLimit(model, { inputTokens: 40_000, maxTokens: 1, waitMs: 0 }));
    expect(error).toBeInstanceOf(RateLimitExceededError);
    const ok = await claude.checkLimit(model, { inputTokens: 25_000, maxTokens: 1, waitMs: 0 });
    expect(ok.inputTokens).toBe(25_000);
    figures.push(`reset in 30 s with no remaining header: 40,000 of ITPM 60,000 refused, 25,000 admitted`);
  });
});
