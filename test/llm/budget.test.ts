import { ErrorCodes } from '@tollgate/core';
import { BudgetExceededError } from '@tollgate/llm';
import { afterAll, describe, expect, it } from 'vitest';
import { FakeClaude, reply } from '../helpers/fake-claude.js';
import { backends, params, rejection, sdk } from './support.js';

// claude-sonnet-5 costs $2 per million input and $10 per million output tokens: 2 and 10 µ$ a token.
const MODEL = 'claude-sonnet-5';
const usage = (input: number, output: number) => ({ input_tokens: input, output_tokens: output });

const BURSTY = { '*': { rpm: 50, itpm: 30_000, otpm: 8_000, burst: { rpm: 50 } } };

for (const backend of backends()) {
  describe.skipIf(!backend.available)(`spend budgets on ${backend.name}`, () => {
    afterAll(() => backend.close());

    it("holds each call's worst-case cost, so concurrent calls cannot overshoot the cap", async () => {
      // Worst case per call: 100 input (given) × 2 + 500 max_tokens × 10 = 5,200 µ$; the cap is 11,500 µ$.
      // Every request may go at once (the default burst is a second's worth): the budget is what binds.
      const claude = backend.make({ budgets: { daily: 0.0115 }, limits: BURSTY });
      const call = { inputTokens: 100, maxTokens: 500, waitMs: 0 };
      const first = await claude.checkLimit(MODEL, call);
      const second = await claude.checkLimit(MODEL, call);
      const third = await rejection(claude.checkLimit(MODEL, call));
      expect(third).toBeInstanceOf(BudgetExceededError);
      expect(third.code).toBe(ErrorCodes.BUDGET_EXCEEDED);
      expect((third as unknown as BudgetExceededError).period).toBe('daily');
      // The first call really cost 100 × 2 + 50 × 10 = 700 µ$: its hold gives way to that.
      await first.settle(usage(100, 50));
      const fourth = await claude.checkLimit(MODEL, call);
      // Spent 700 + held 5,200 + 5,200 = 11,100; one more worst case would pass 11,500: refused.
      expect(await rejection(claude.checkLimit(MODEL, call))).toBeInstanceOf(BudgetExceededError);
      await second.settle();
      await fourth.settle(usage(100, 50));
      // Spent 1,400 µ$, nothing held: room for one more worst case.
      await (await claude.checkLimit(MODEL, call)).settle(usage(100, 50));
    });

    it('keeps tenants apart, and a monthly cap applies with the daily one', async () => {
      const claude = backend.make({ budgets: { daily: 1, monthly: 0.006 }, limits: BURSTY });
      const call = { inputTokens: 100, maxTokens: 500, waitMs: 0 };
      const a = await claude.checkLimit(MODEL, { ...call, tenant: 'tenant-a' });
      const refused = await rejection(claude.checkLimit(MODEL, { ...call, tenant: 'tenant-a' }));
      expect((refused as unknown as BudgetExceededError).period).toBe('monthly');
      const b = await claude.checkLimit(MODEL, { ...call, tenant: 'tenant-b' });
      await a.settle(usage(100, 50));
      await b.settle(usage(100, 50));
    });

    it('a refused rate limit releases the budget hold it took', async () => {
      // claude-haiku-4-5 is another family (its own RPM) but the same app budget: worst case
      // 100 × 1 + 500 × 5 = 2,600 µ$. With a leaked 5,200 µ$ hold it would not fit under 7,000.
      const claude = backend.make({
        budgets: { daily: 0.007 },
        limits: { '*': { rpm: 1, itpm: 10_000, otpm: 10_000 } },
      });
      const call = { inputTokens: 100, maxTokens: 500, waitMs: 0 };
      await (await claude.checkLimit(MODEL, call)).settle();
      expect((await rejection(claude.checkLimit(MODEL, call))).code).toBe(ErrorCodes.RATE_LIMITED);
      await (await claude.checkLimit('claude-haiku-4-5', call)).settle();
    });

    it('run() charges the real cost from the response and refuses once the budget is spent', async () => {
      const fake = await FakeClaude.start();
      const anthropic = sdk(fake.url);
      // Worst case: estimated input + 100 max_tokens × 10 µ$; real: 1,000 input + 100 output = 3,000 µ$.
      const claude = backend.make({ budgets: { daily: 0.007 } });
      fake.enqueue(reply.ok(usage(1000, 100)), reply.ok(usage(1000, 100)), reply.ok(usage(1000, 100)));
      const create = (p: never) => anthropic.messages.create(p).withResponse();
      await claude.run(MODEL, params(MODEL, 100), create);
      await claude.run(MODEL, params(MODEL, 100), create);
      const refused = await rejection(claude.run(MODEL, params(MODEL, 100), create));
      expect(refused).toBeInstanceOf(BudgetExceededError);
      expect(fake.requests).toHaveLength(2);
      await fake.close();
    });

    it('rejects budgets that are not amounts', () => {
      expect(() => backend.make({ budgets: { daily: -1 } })).toThrow(/budgets\.daily/);
      expect(() => backend.make({ budgets: { weekly: 5 } as never })).toThrow(/weekly/);
    });
  });
}
