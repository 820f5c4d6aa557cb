import type Anthropic from '@anthropic-ai/sdk';
import { ErrorCodes, InvalidOptionError, RateLimitExceededError } from '@tollgate/core';
import { ClaudeRateLimiter } from '@tollgate/llm';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { FakeClaude } from '../helpers/fake-claude.js';
import { collectingLogger, params, sdk } from './support.js';

/**
 * `burst` per limit: by default a request bucket holds one second's worth of requests (the API
 * may enforce 60 per minute as one per second), token buckets the whole minute. Through the
 * real SDK at the fake API.
 */

const MODEL = 'claude-sonnet-5';
const figures: string[] = [];

describe('bursts', () => {
  let fake: FakeClaude;
  let anthropic: Anthropic;
  beforeAll(async () => {
    fake = await FakeClaude.start();
    anthropic = sdk(fake.url);
  });
  afterEach(() => fake.clear());
  afterAll(async () => {
    await fake.close();
    console.log(`bursts (issue 15 item 5):\n${figures.join('\n')}`);
  });

  /** Fires `n` calls at once that may not wait; how many reached the API, and in how long. */
  async function fire(claude: ClaudeRateLimiter, n: number) {
    const started = Date.now();
    const results = await Promise.allSettled(
      Array.from({ length: n }, () =>
        claude.run(MODEL, params(MODEL, 10), (p) => anthropic.messages.create(p), { waitMs: 0 }),
      ),
    );
    const refused = results.filter((r) => r.status === 'rejected');
    for (const r of refused) expect((r as PromiseRejectedResult).reason).toBeInstanceOf(RateLimitExceededError);
    const at = fake.messages().map((m) => m.at);
    return { admitted: at.length, refused: refused.length, ms: Math.max(0, ...at) - started };
  }

  it('at RPM 60, one request goes at once, not 60 (the default burst is a second of requests)', async () => {
    const claude = new ClaudeRateLimiter({
      limits: { '*': { rpm: 60, itpm: 1_000_000, otpm: 1_000_000 } },
      logger: collectingLogger().logger,
    });
    const { admitted, refused, ms } = await fire(claude, 60);
    figures.push(
      `RPM 60, 60 calls at once, default burst: ${admitted} admitted (last after ${ms} ms), ${refused} refused`,
    );
    expect(admitted).toBe(1);
    expect(refused).toBe(59);
  });

  it('calls that wait go about one a second at RPM 60', async () => {
    const claude = new ClaudeRateLimiter({
      limits: { '*': { rpm: 60, itpm: 1_000_000, otpm: 1_000_000 } },
      logger: collectingLogger().logger,
    });
    const started = Date.now();
    await Promise.all(
      Array.from({ length: 4 }, () => claude.run(MODEL, params(MODEL, 10), (p) => anthropic.messages.create(p))),
    );
    const at = fake.messages().map((m) => m.at - started);
    figures.push(`RPM 60, 4 calls that may wait: reached the API at ${at.join(', ')} ms`);
    // A bucket of one request refilled at one a second cannot admit 4 sooner than 3 s apart.
    expect(Math.max(...at) - Math.min(...at)).toBeGreaterThanOrEqual(2_900);
  }, 20_000);

  it('an explicit burst lets that many go at once', async () => {
    const claude = new ClaudeRateLimiter({
      limits: { '*': { rpm: 60, itpm: 1_000_000, otpm: 1_000_000, burst: { rpm: 10 } } },
      logger: collectingLogger().logger,
    });
    const { admitted, refused } = await fire(claude, 12);
    figures.push(`RPM 60, burst.rpm 10, 12 calls at once: ${admitted} admitted, ${refused} refused`);
    expect(admitted).toBe(10);
    expect(refused).toBe(2);
  });

  it('a token burst below the limit bounds what goes at once (here 1,000 of ITPM 60,000)', async () => {
    const claude = new ClaudeRateLimiter({
      limits: { '*': { rpm: 1_000, itpm: 60_000, otpm: 1_000_000, burst: { rpm: 1_000, itpm: 1_000 } } },
      logger: collectingLogger().logger,
    });
    await claude.checkLimit(MODEL, { inputTokens: 600, maxTokens: 1, waitMs: 0 });
    await expect(claude.checkLimit(MODEL, { inputTokens: 600, maxTokens: 1, waitMs: 0 })).rejects.toBeInstanceOf(
      RateLimitExceededError,
    );
  });
});

describe('burst validation', () => {
  it.each([
    ['0', { rpm: 0 }, /limits\.\*\.burst\.rpm/],
    ['negative', { itpm: -5 }, /limits\.\*\.burst\.itpm/],
    ['fractional', { otpm: 1.5 }, /limits\.\*\.burst\.otpm/],
    ['a string', { rpm: '10' }, /limits\.\*\.burst\.rpm/],
    ['too large to refill in 2^40 ms', { rpm: 999_999_999_999 }, /limits\.\*\.burst\.rpm/],
  ])('rejects a burst that is %s, naming the option', (_what, burst, message) => {
    const make = () => new ClaudeRateLimiter({ limits: { '*': { rpm: 1, itpm: 10, otpm: 10, burst } } as never });
    expect(make).toThrow(InvalidOptionError);
    expect(make).toThrow(message);
  });

  it('rejects an unknown burst key and a burst that is not an object', () => {
    const unknown = () =>
      new ClaudeRateLimiter({ limits: { '*': { rpm: 1, itpm: 1, otpm: 1, burst: { tpm: 1 } } } as never });
    expect(unknown).toThrow(expect.objectContaining({ code: ErrorCodes.UNKNOWN_OPTION }));
    const scalar = () => new ClaudeRateLimiter({ limits: { '*': { rpm: 1, itpm: 1, otpm: 1, burst: 5 } } as never });
    expect(scalar).toThrow(/limits\.\*\.burst/);
  });

  it('two entries of one family must agree on their bursts too', () => {
    const make = () =>
      new ClaudeRateLimiter({
        limits: {
          'claude-opus-4-5': { rpm: 10, itpm: 10, otpm: 10, burst: { rpm: 10 } },
          'claude-opus-4-6': { rpm: 10, itpm: 10, otpm: 10 },
        },
      });
    expect(make).toThrow(/claude-opus-4-5\+/);
  });
});
