import { ErrorCodes } from '@tollgate/core';
import { BudgetExceededError } from '@tollgate/llm';
import { afterAll, describe, expect, it } from 'vitest';
import { FakeClaude, reply } from '../helpers/fake-claude.js';
import { backends, params, rejection, sdk } from './support.js';

/**
 * Issue 15 defect 8: a model missing from the price table was held against budgets at $0, so 5
 * calls to it went through a budget that already refused priced models; and `recordUsage`
 * returned the number 0 for it, which reads as "free".
 */
const PRICED = 'claude-sonnet-5'; // 2 µ$ per input token, 10 per output token
const UNKNOWN_FAMILY = 'claude-mystery-1'; // held at the dearest price of the table: 15 / 75
const UNKNOWN_SONNET = 'claude-sonnet-9'; // held at the dearest Sonnet's: 3 / 15

for (const backend of backends()) {
  describe.skipIf(!backend.available)(`unpriced models on ${backend.name}`, () => {
    afterAll(() => backend.close());

    it('a budget that refuses priced calls refuses unpriced ones too, through the SDK', async () => {
      const fake = await FakeClaude.start();
      const anthropic = sdk(fake.url);
      const claude = backend.make({ budgets: { daily: 0.01 } });
      const create = (p: never) => anthropic.messages.create(p).withResponse();
      // Spends 1,000 × 2 + 500 × 10 = 7,000 µ$ of the 10,000.
      fake.enqueue(reply.ok({ input_tokens: 1_000, output_tokens: 500 }));
      await claude.run(PRICED, params(PRICED, 500), create);
      // A priced call's worst case (500 max_tokens × 10 = 5,000 µ$ and its input) no longer fits.
      expect(await rejection(claude.run(PRICED, params(PRICED, 500), create))).toBeInstanceOf(BudgetExceededError);
      let admitted = 0;
      for (let i = 0; i < 5; i++) {
        for (const model of [UNKNOWN_FAMILY, UNKNOWN_SONNET]) {
          const outcome = await claude.run(model, params(model, 500), create).then(
            () => 'admitted',
            (error: { code?: string }) => error.code,
          );
          if (outcome === 'admitted') admitted += 1;
          else expect(outcome).toBe(ErrorCodes.BUDGET_EXCEEDED);
        }
      }
      console.log(`unpriced models through a refusing $0.01 budget: ${admitted} of 10 admitted`);
      expect(admitted).toBe(0);
      expect(fake.calls).toBe(1);
      await fake.close();
    });

    it('an unpriced call is held at the assumed price: it fits a budget only if that price would', async () => {
      const fake = await FakeClaude.start({ defaultUsage: { input_tokens: 100, output_tokens: 10 } });
      const anthropic = sdk(fake.url);
      const create = (p: never) => anthropic.messages.create(p).withResponse();
      // claude-sonnet-9 at 3 / 15: 100 max_tokens × 15 = 1,500 µ$ plus its input estimate; fits in 2,000.
      const roomy = backend.make({ budgets: { daily: 0.002 } });
      await roomy.run(UNKNOWN_SONNET, params(UNKNOWN_SONNET, 100), create);
      // At the dearest price of all (75 per output token), 100 max_tokens alone is 7,500 µ$: refused.
      expect((await rejection(roomy.run(UNKNOWN_FAMILY, params(UNKNOWN_FAMILY, 100), create))).code).toBe(
        ErrorCodes.BUDGET_EXCEEDED,
      );
      // The real call is charged to the budget at the assumed price too: 100 × 3 + 10 × 15 = 450 µ$.
      const tight = backend.make({ budgets: { daily: 0.002 } });
      await (await tight.checkLimit(UNKNOWN_SONNET, { inputTokens: 100, maxTokens: 100 })).settle({
        input_tokens: 100,
        output_tokens: 10,
      });
      // 450 spent + 100 × 3 + 100 × 15 = 2,250 > 2,000: refused; a priced sonnet-5 call (200 + 1,000) fits.
      expect((await rejection(tight.checkLimit(UNKNOWN_SONNET, { inputTokens: 100, maxTokens: 100 }))).code).toBe(
        ErrorCodes.BUDGET_EXCEEDED,
      );
      await (await tight.checkLimit(PRICED, { inputTokens: 100, maxTokens: 100 })).settle();
      await fake.close();
    });

    it('recordUsage returns null for an unpriced model, never 0; the stats count it as unpriced', async () => {
      const claude = backend.make();
      const cost = await claude.recordUsage(UNKNOWN_SONNET, { input_tokens: 1_000, output_tokens: 100 });
      expect(cost).toBeNull();
      expect(await claude.recordUsage(PRICED, { input_tokens: 1_000, output_tokens: 100 })).toBe(0.003);
      // A priced call that costs nothing is 0, not null.
      expect(await claude.recordUsage(PRICED, { input_tokens: 0, output_tokens: 0 })).toBe(0);
      const stats = await claude.getUsageStats({ days: 1 });
      expect(stats).toMatchObject({ calls: 3, unpricedCalls: 1, costMicros: 3_000 });
      expect(stats.models[UNKNOWN_SONNET]).toMatchObject({ calls: 1, unpricedCalls: 1, costMicros: 0 });
    });
  });
}
