import type Anthropic from '@anthropic-ai/sdk';
import { MemoryStore, register } from '@tollgate/core';
import { OVERFLOW_LABEL } from '@tollgate/core/adapter';
import { ClaudeRateLimiter } from '@tollgate/llm';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { FakeClaude, reply } from '../helpers/fake-claude.js';
import { collectingLogger, params, rejection, sdk } from './support.js';

/** The Claude limiter's Prometheus counters, in tollgate's registry, with bounded labels. */

async function value(name: string, labels: Record<string, string>): Promise<number> {
  const metric = register.getSingleMetric(name);
  if (metric === undefined) throw new Error(`no metric ${name} in the registry`);
  const { values } = await metric.get();
  const match = values.filter((v) => Object.entries(labels).every(([k, l]) => v.labels[k] === l));
  return match.reduce((sum, v) => sum + v.value, 0);
}

const ROOMY = { '*': { rpm: 1_000, itpm: 1_000_000, otpm: 1_000_000 } };
const make = (options: ConstructorParameters<typeof ClaudeRateLimiter>[0] = {}) =>
  new ClaudeRateLimiter({ store: new MemoryStore(), logger: collectingLogger().logger, limits: ROOMY, ...options });

describe('ClaudeRateLimiter metrics', () => {
  let fake: FakeClaude;
  let anthropic: Anthropic;
  beforeAll(async () => {
    fake = await FakeClaude.start();
    anthropic = sdk(fake.url);
  });
  beforeEach(() => fake.clear());
  afterAll(() => fake.close());

  it('counts calls by outcome, tokens by type and cost by model', async () => {
    const model = 'claude-haiku-4-5-20251001';
    const claude = make({ retry: { baseMs: 1, capMs: 1 } });
    fake.enqueue(
      reply.overloaded(),
      reply.ok({ input_tokens: 1_000, output_tokens: 200, cache_read_input_tokens: 50 }),
      reply.status(400),
    );
    await claude.run(model, params(model), (p) => anthropic.messages.create(p));
    await rejection(claude.run(model, params(model), (p) => anthropic.messages.create(p)));
    expect(await value('tollgate_claude_calls_total', { model, outcome: 'success' })).toBe(1);
    expect(await value('tollgate_claude_calls_total', { model, outcome: 'error' })).toBe(1);
    expect(await value('tollgate_claude_retries_total', { model, reason: 'overloaded' })).toBe(1);
    expect(await value('tollgate_claude_tokens_total', { model, type: 'input' })).toBe(1_000);
    expect(await value('tollgate_claude_tokens_total', { model, type: 'cache_read' })).toBe(50);
    expect(await value('tollgate_claude_tokens_total', { model, type: 'output' })).toBe(200);
    // 1000×1 + 50×0.10 + 200×5 = 2,005 µ$
    expect(await value('tollgate_claude_cost_usd_total', { model })).toBeCloseTo(0.002005, 9);
  });

  it('a spend cap is its own outcome', async () => {
    const model = 'claude-opus-4-1';
    const claude = make();
    fake.enqueue(reply.spendCap('contract_spend_limit_reached'));
    await rejection(claude.run(model, params(model), (p) => anthropic.messages.create(p)));
    expect(await value('tollgate_claude_calls_total', { model, outcome: 'spend_cap' })).toBe(1);
  });

  it('an unknown model is counted as unpriced, with no cost', async () => {
    const model = 'claude-metrics-mystery';
    const claude = make();
    await claude.recordUsage(model, { input_tokens: 10, output_tokens: 10 });
    expect(await value('tollgate_claude_unpriced_calls_total', { model })).toBe(1);
    expect(await value('tollgate_claude_cost_usd_total', { model })).toBe(0);
  });

  it('a wait for budget is counted', async () => {
    const model = 'claude-metrics-wait';
    const claude = make({ limits: { [model]: { rpm: 100, itpm: 60_000, otpm: 50_000 } } });
    await claude.checkLimit(model, { inputTokens: 60_000, maxTokens: 1 });
    await claude.checkLimit(model, { inputTokens: 20, maxTokens: 1, waitMs: 5_000 });
    expect(await value('tollgate_claude_limiter_waits_total', { model })).toBeGreaterThanOrEqual(1);
  });

  it('a request id recorded twice is counted once in the metrics too, as in the ledger', async () => {
    const model = 'claude-sonnet-4-6';
    const claude = make();
    const before = await value('tollgate_claude_tokens_total', { model, type: 'input' });
    await claude.recordUsage(model, { input_tokens: 100, output_tokens: 1 }, { requestId: 'req_metric_dup' });
    await claude.recordUsage(model, { input_tokens: 100, output_tokens: 1 }, { requestId: 'req_metric_dup' });
    expect((await claude.getUsageStats({ days: 1 })).tokens.input).toBe(100);
    expect((await value('tollgate_claude_tokens_total', { model, type: 'input' })) - before).toBe(100);
  });

  it('model labels are bounded: past 50 models, one overflow series', async () => {
    const claude = make();
    for (let i = 0; i < 60; i++) await claude.recordUsage(`claude-flood-${i}`, { input_tokens: 1, output_tokens: 0 });
    const { values } = await (register.getSingleMetric('tollgate_claude_tokens_total')?.get() ?? { values: [] });
    const labels = new Set(values.map((v) => v.labels.model));
    expect(labels.size).toBeLessThanOrEqual(51);
    expect(labels.has(OVERFLOW_LABEL)).toBe(true);
  });
});
