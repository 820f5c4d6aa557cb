import Anthropic from '@anthropic-ai/sdk';
import { ErrorCodes, RateLimitExceededError } from '@tollgate/core';
import { type ClaudeRateLimiter, limitClaude } from '@tollgate/llm';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { FakeClaude, reply } from '../helpers/fake-claude.js';
import { backends, params, rejection } from './support.js';

/**
 * limitClaude(new Anthropic(), limiter): the real SDK client, unchanged call sites, every call
 * limited, retried by the limiter and recorded, through the SDK's client middleware.
 */

const SONNET = 'claude-sonnet-4-6';
const USAGE = { input_tokens: 900, output_tokens: 60 };
/** claude-sonnet-4-6: 900 × 3 + 60 × 15 = 3,600 µ$ */
const USAGE_MICROS = 3_600;

const all = backends();
let fake: FakeClaude;

beforeAll(async () => {
  fake = await FakeClaude.start({ countTokens: () => 321 });
});
beforeEach(() => {
  fake.clear();
  fake.setDefaultUsage(USAGE);
});
afterAll(async () => {
  await fake.close();
  await Promise.all(all.map((b) => b.close()));
});

/** A client as an app makes it: the SDK's own retries left at their default. */
const client = () => new Anthropic({ apiKey: 'test', baseURL: fake.url });

for (const backend of all) {
  describe.skipIf(!backend.available)(`limitClaude (${backend.name})`, () => {
    let claude: ClaudeRateLimiter;
    beforeEach(() => {
      claude = backend.make({
        limits: { [SONNET]: { rpm: 100, itpm: 1_000, otpm: 10_000 } },
        retry: { baseMs: 1, capMs: 1 },
      });
    });

    it('messages.create is admitted, settled and recorded; over the limit it is refused before the API', async () => {
      const anthropic = limitClaude(client(), claude, { waitMs: 0 });
      const message = await anthropic.messages.create(params(SONNET));
      expect(message.usage.input_tokens).toBe(900);
      await anthropic.messages.create(params(SONNET)); // the estimate fits in the 100 left; 900 are charged
      const error = await rejection(anthropic.messages.create(params(SONNET)));
      expect(error).toBeInstanceOf(RateLimitExceededError);
      expect(fake.calls).toBe(2);
      expect(await claude.getUsageStats({ days: 1 })).toMatchObject({ calls: 2, costMicros: 2 * USAGE_MICROS });
    });

    it('a 529 then 200: retried by the limiter, one call of 2 attempts, the SDK retries nothing itself', async () => {
      const anthropic = limitClaude(client(), claude);
      fake.enqueue(reply.overloaded(), reply.ok(USAGE));
      const message = await anthropic.messages.create(params(SONNET));
      expect(message.type).toBe('message');
      expect(fake.calls).toBe(2);
      expect(await claude.getUsageStats({ days: 1 })).toMatchObject({
        calls: 1,
        attempts: 2,
        costMicros: USAGE_MICROS,
      });
    });

    it('a 400 goes back to the caller as the SDK error it would be, recorded as a failed call', async () => {
      const anthropic = limitClaude(client(), claude);
      fake.enqueue(reply.status(400));
      const error = await rejection(anthropic.messages.create(params(SONNET)));
      expect(error.constructor.name).toBe('BadRequestError');
      expect(fake.calls).toBe(1);
      expect(await claude.getUsageStats({ days: 1 })).toMatchObject({ calls: 1, errors: 1 });
    });

    it('messages.create({ stream: true }): the caller reads the stream; the limiter settles from its events', async () => {
      const anthropic = limitClaude(client(), claude);
      fake.enqueue(reply.rateLimited({ retryAfterMs: 1 }), reply.ok(USAGE));
      const stream = await anthropic.messages.create({ ...params(SONNET), stream: true });
      const types: string[] = [];
      for await (const event of stream) types.push(event.type);
      expect(types).toContain('message_delta');
      await expect.poll(async () => (await claude.getUsageStats({ days: 1 })).calls).toBe(1);
      expect(await claude.getUsageStats({ days: 1 })).toMatchObject({
        calls: 1,
        attempts: 2,
        costMicros: USAGE_MICROS,
        tokens: { input: 900, output: 60 },
      });
    });

    it('messages.stream(): finalMessage() resolves and the call is recorded once', async () => {
      const anthropic = limitClaude(client(), claude);
      const message = await anthropic.messages.stream(params(SONNET)).finalMessage();
      expect(message.usage.output_tokens).toBe(60);
      await expect.poll(async () => (await claude.getUsageStats({ days: 1 })).calls).toBe(1);
      expect((await claude.getUsageStats({ days: 1 })).costMicros).toBe(USAGE_MICROS);
    });

    it('messages.countTokens passes through, not recorded as a call', async () => {
      const anthropic = limitClaude(client(), claude);
      const counted = await anthropic.messages.countTokens({ model: SONNET, messages: params(SONNET).messages });
      expect(counted.input_tokens).toBe(321);
      expect((await claude.getUsageStats({ days: 1 })).calls).toBe(0);
    });

    it('batches: create passes, results are recorded at batch prices, once however often read', async () => {
      const anthropic = limitClaude(client(), claude);
      const batch = await anthropic.messages.batches.create({
        requests: [
          { custom_id: 'a', params: params(SONNET) },
          { custom_id: 'b', params: params(SONNET) },
        ],
      });
      for (let read = 0; read < 2; read++) {
        const seen: string[] = [];
        for await (const result of await anthropic.messages.batches.results(batch.id)) seen.push(result.custom_id);
        expect(seen).toEqual(['a', 'b']);
      }
      // Two results at half of 3,600 µ$ each.
      await expect.poll(async () => (await claude.getUsageStats({ days: 1 })).costMicros).toBe(USAGE_MICROS);
      expect((await claude.getUsageStats({ days: 1 })).calls).toBe(2);
    });

    it('refuses what is not an SDK client, and options it does not know', () => {
      expect(() => limitClaude({} as never, claude)).toThrow(
        expect.objectContaining({ code: ErrorCodes.INVALID_OPTION }),
      );
      expect(() => limitClaude(client(), claude, { tennant: 'x' } as never)).toThrow(
        expect.objectContaining({ code: ErrorCodes.UNKNOWN_OPTION }),
      );
    });
  });
}
