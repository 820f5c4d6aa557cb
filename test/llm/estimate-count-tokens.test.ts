import { ErrorCodes } from '@tollgate/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FakeClaude, type ReceivedRequest, reply } from '../helpers/fake-claude.js';
import { backends, collectingLogger, params, sdk } from './support.js';

/**
 * Issue 15 defect 4, the optional part: `countTokens` asks the free token-counting endpoint for
 * a call's exact input (through the real SDK's `messages.countTokens`), within the endpoint's
 * own RPM; when its bucket is empty or it fails, the estimate serves.
 */
const MODEL = 'claude-sonnet-4-6';
const COUNTED = 4_321;
/** Room for every call at once: only the counting endpoint's own RPM is under test. */
const limits = { '*': { rpm: 60_000, itpm: 10_000_000, otpm: 1_000_000 } };

for (const backend of backends()) {
  describe.skipIf(!backend.available)(`countTokens on ${backend.name}`, () => {
    let fake: FakeClaude;
    beforeAll(async () => {
      fake = await FakeClaude.start({ countTokens: () => COUNTED });
    });
    afterAll(async () => {
      await fake.close();
      await backend.close();
    });
    const counts = () => fake.requests.filter((r: ReceivedRequest) => r.path === '/v1/messages/count_tokens');

    it('reserves the counted input, sending the endpoint only the fields it takes', async () => {
      fake.clear();
      const anthropic = sdk(fake.url);
      const claude = backend.make({ limits, countTokens: { count: (p: never) => anthropic.messages.countTokens(p) } });
      const request = { ...params(MODEL, 50, 'What is in this contract?'), metadata: { user_id: 'u1' } };
      const reservation = await claude.checkLimit(MODEL, { request, maxTokens: 50 });
      expect(reservation.inputTokens).toBe(COUNTED);
      await reservation.settle();
      expect(counts()).toHaveLength(1);
      expect(Object.keys(counts()[0]?.body as object).sort()).toEqual(['messages', 'model']);
      // run() counts too, once per call, and the caller's own inputTokens win without counting.
      await claude.run(MODEL, request, (p: never) => anthropic.messages.create(p).withResponse());
      await claude.run(MODEL, request, (p: never) => anthropic.messages.create(p).withResponse(), { inputTokens: 10 });
      expect(counts()).toHaveLength(2);
      expect(fake.calls).toBe(2);
    });

    it("keeps within the endpoint's own RPM (a second's worth at once), then estimates", async () => {
      fake.clear();
      const anthropic = sdk(fake.url);
      // 120 per minute: 2 at once.
      const claude = backend.make({
        limits,
        countTokens: { count: (p: never) => anthropic.messages.countTokens(p), rpm: 120 },
      });
      const inputs: number[] = [];
      for (let i = 0; i < 5; i++) {
        const reservation = await claude.checkLimit(MODEL, { request: params(MODEL, 50), maxTokens: 50 });
        inputs.push(reservation.inputTokens);
        await reservation.settle();
      }
      expect(counts()).toHaveLength(2);
      expect(inputs.slice(0, 2)).toEqual([COUNTED, COUNTED]);
      for (const n of inputs.slice(2)) expect(n).toBeLessThan(100);
    });

    it('a failing endpoint is logged once and the estimate serves', async () => {
      const failing = await FakeClaude.start({ countTokens: () => reply.status(500) });
      const anthropic = sdk(failing.url);
      const { lines, logger } = collectingLogger();
      const claude = backend.make({
        limits,
        logger,
        countTokens: { count: (p: never) => anthropic.messages.countTokens(p) },
      });
      for (let i = 0; i < 2; i++) {
        const reservation = await claude.checkLimit(MODEL, { request: params(MODEL, 50), maxTokens: 50 });
        expect(reservation.inputTokens).toBeLessThan(100);
        await reservation.settle();
      }
      expect(lines.filter((l) => /token counting failed/.test(l.message))).toHaveLength(1);
      await failing.close();
    });

    it('rejects a countTokens that is not { count, rpm }', () => {
      expect(() => backend.make({ limits, countTokens: { count: 'yes' } as never })).toThrow(
        expect.objectContaining({ code: ErrorCodes.INVALID_OPTION, option: 'countTokens.count' }),
      );
      expect(() => backend.make({ limits, countTokens: { count: async () => ({ input_tokens: 1 }), rpm: 0 } })).toThrow(
        /countTokens\.rpm/,
      );
    });
  });
}
