import type Anthropic from '@anthropic-ai/sdk';
import { RateLimitExceededError, register } from '@tollgate/core';
import { BudgetExceededError, type ClaudeRateLimiter } from '@tollgate/llm';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { FakeClaude, reply } from '../helpers/fake-claude.js';
import { backends, params, rejection, sdk } from './support.js';

/**
 * Streamed calls through run(), with the real @anthropic-ai/sdk against the fake API speaking
 * SSE: `messages.create({ stream: true })` (a Stream) and `messages.stream()` (a MessageStream)
 * are reserved, retried before their first event, and settled from their own usage events.
 */

const SONNET = 'claude-sonnet-4-6';
/** Limits roomy enough that only what a test sets up can refuse a call. */
const ROOMY = { rpm: 1_000, itpm: 1_000_000, otpm: 1_000_000 };
/** The figures: 900 input and 60 output tokens per call. */
const USAGE = { input_tokens: 900, output_tokens: 60 };
/** claude-sonnet-4-6: 900 × 3 + 60 × 15 = 3,600 µ$ */
const USAGE_MICROS = 3_600;

async function metric(name: string, labels: Record<string, string>): Promise<number> {
  const found = register.getSingleMetric(name);
  if (found === undefined) return 0;
  const { values } = await found.get();
  const match = values.filter((v) => Object.entries(labels).every(([k, l]) => v.labels[k] === l));
  return match.reduce((sum, v) => sum + v.value, 0);
}

/** Reads a Stream of events to its end: the text it carried. */
async function drain(stream: AsyncIterable<unknown>): Promise<string> {
  let text = '';
  for await (const event of stream) {
    const e = event as { type: string; delta?: { type: string; text?: string } };
    if (e.type === 'content_block_delta' && e.delta?.type === 'text_delta') text += e.delta.text;
  }
  return text;
}

const streamed = (model = SONNET) => ({ ...params(model), stream: true as const });
type Stream = ReturnType<typeof streamed>;
type Params = ReturnType<typeof params>;

const all = backends();
let fake: FakeClaude;
let anthropic: Anthropic;

beforeAll(async () => {
  fake = await FakeClaude.start();
  anthropic = sdk(fake.url);
});
beforeEach(() => {
  fake.clear();
  fake.setDefaultUsage(USAGE);
});
afterAll(async () => {
  await fake.close();
  await Promise.all(all.map((b) => b.close()));
});

for (const backend of all) {
  describe.skipIf(!backend.available)(`run() with streams through the real SDK (${backend.name})`, () => {
    let claude: ClaudeRateLimiter;

    describe('messages.create({ stream: true })', () => {
      beforeEach(() => {
        claude = backend.make({ limits: { [SONNET]: { rpm: 100, itpm: 1_000, otpm: 10_000 } } });
      });

      it('settles from the events: three 900-token streams against ITPM 1,000 admit one (was: all three)', async () => {
        fake.setDefaultUsage(USAGE);
        const outcomes: string[] = [];
        for (let i = 0; i < 3; i++) {
          try {
            const stream = await claude.run(SONNET, streamed(), (p: Stream) => anthropic.messages.create(p), {
              inputTokens: 900,
              waitMs: 0,
            });
            expect(await drain(stream)).toBe('Hello from the fake Claude API.');
            outcomes.push('admitted');
          } catch (error) {
            if (!(error instanceof RateLimitExceededError)) throw error;
            outcomes.push('refused');
          }
        }
        await claude.settled();
        expect(outcomes).toEqual(['admitted', 'refused', 'refused']);
        expect(fake.calls).toBe(1);
        const stats = await claude.getUsageStats({ days: 1 });
        expect(stats).toMatchObject({ calls: 1, attempts: 1, errors: 0, costMicros: USAGE_MICROS });
        expect(stats.tokens).toMatchObject({ input: 900, output: 60 });
      });

      it('the caller gets a usable Stream: the same object, tee() works', async () => {
        fake.setDefaultUsage(USAGE);
        const stream = await claude.run(SONNET, streamed(), (p: Stream) => anthropic.messages.create(p), {
          inputTokens: 900,
        });
        expect(stream.constructor.name).toBe('Stream');
        const [left, right] = stream.tee();
        expect(await drain(left)).toBe('Hello from the fake Claude API.');
        expect(await drain(right)).toBe('Hello from the fake Claude API.');
        await claude.settled();
        expect(await claude.getUsageStats({ days: 1 })).toMatchObject({ calls: 1, costMicros: USAGE_MICROS });
      });

      it('.withResponse() streams are settled too, with their request id counted once', async () => {
        fake.enqueue(reply.ok(USAGE, { requestId: 'req_stream_once' }));
        const { data } = await claude.run(
          SONNET,
          streamed(),
          (p: Stream) => anthropic.messages.create(p).withResponse(),
          {
            inputTokens: 900,
          },
        );
        await drain(data);
        await claude.settled();
        await claude.recordUsage(SONNET, USAGE, { requestId: 'req_stream_once' });
        expect(await claude.getUsageStats({ days: 1 })).toMatchObject({ calls: 1, costMicros: USAGE_MICROS });
      });

      it('a 529 before the first event is retried; 1 call of 2 attempts', async () => {
        claude = backend.make({ limits: { [SONNET]: ROOMY }, retry: { baseMs: 1, capMs: 1 } });
        fake.enqueue(reply.overloaded(), reply.ok(USAGE));
        const stream = await claude.run(SONNET, streamed(), (p: Stream) => anthropic.messages.create(p));
        await drain(stream);
        await claude.settled();
        expect(fake.calls).toBe(2);
        expect(await claude.getUsageStats({ days: 1 })).toMatchObject({ calls: 1, attempts: 2, errors: 0 });
      });

      it('an overloaded error event before message_start (a 200 that fails at once) is retried', async () => {
        claude = backend.make({ limits: { [SONNET]: ROOMY }, retry: { baseMs: 1, capMs: 1 } });
        fake.enqueue(reply.ok(USAGE, { stream: { errorAfter: 0 } }), reply.ok(USAGE));
        const stream = await claude.run(SONNET, streamed(), (p: Stream) => anthropic.messages.create(p));
        expect(await drain(stream)).toBe('Hello from the fake Claude API.');
        await claude.settled();
        expect(fake.calls).toBe(2);
        expect(await claude.getUsageStats({ days: 1 })).toMatchObject({ calls: 1, attempts: 2, errors: 0 });
      });

      it('an error event after the first event is surfaced, not retried, and settled from what arrived', async () => {
        claude = backend.make({ limits: { [SONNET]: ROOMY }, retry: { baseMs: 1, capMs: 1 } });
        const before = await metric('tollgate_claude_calls_total', { model: SONNET, outcome: 'error' });
        fake.enqueue(reply.ok(USAGE, { stream: { errorAfter: 4 } }), reply.ok(USAGE));
        const stream = await claude.run(SONNET, streamed(), (p: Stream) => anthropic.messages.create(p));
        const error = await rejection(drain(stream));
        expect(error.error).toMatchObject({ error: { type: 'overloaded_error' } });
        await claude.settled();
        expect(fake.calls).toBe(1);
        const stats = await claude.getUsageStats({ days: 1 });
        // message_start reported 900 input (and 1 output so far): that much is charged.
        expect(stats).toMatchObject({ calls: 1, errors: 1, tokens: { input: 900, output: 1 } });
        expect(await metric('tollgate_claude_calls_total', { model: SONNET, outcome: 'error' })).toBe(before + 1);
      });

      it('a connection cut after message_start settles what its events reported', async () => {
        claude = backend.make({ limits: { [SONNET]: ROOMY }, retry: { baseMs: 1, capMs: 1 } });
        fake.enqueue(reply.ok(USAGE, { stream: { cutAfter: 3 } }), reply.ok(USAGE));
        const stream = await claude.run(SONNET, streamed(), (p: Stream) => anthropic.messages.create(p));
        await rejection(drain(stream));
        await claude.settled();
        expect(fake.calls).toBe(1);
        expect(await claude.getUsageStats({ days: 1 })).toMatchObject({
          calls: 1,
          errors: 1,
          tokens: { input: 900, output: 1 },
        });
      });

      it('a reader that breaks out early: the request is aborted and what arrived is settled', async () => {
        claude = backend.make({ limits: { [SONNET]: ROOMY } });
        fake.enqueue(reply.ok(USAGE, { stream: { eventDelayMs: 20 } }));
        const stream = await claude.run(SONNET, streamed(), (p: Stream) => anthropic.messages.create(p));
        for await (const event of stream) if ((event as { type: string }).type === 'message_start') break;
        expect(stream.controller.signal.aborted).toBe(true);
        await claude.settled();
        expect(await claude.getUsageStats({ days: 1 })).toMatchObject({ calls: 1, tokens: { input: 900 } });
      });
    });

    describe('messages.stream() (MessageStream)', () => {
      it('a 429 before the first event is retried; finalMessage() resolves (was: rejected, not retried)', async () => {
        claude = backend.make({ limits: { [SONNET]: ROOMY }, retry: { baseMs: 1, capMs: 1 } });
        const before = await metric('tollgate_claude_calls_total', { model: SONNET, outcome: 'success' });
        fake.enqueue(reply.rateLimited({ retryAfterMs: 5 }), reply.ok(USAGE));
        const stream = await claude.run(SONNET, params(), (p: Params) => anthropic.messages.stream(p));
        const message = await stream.finalMessage();
        expect(message.usage.output_tokens).toBe(60);
        await claude.settled();
        expect(fake.calls).toBe(2);
        expect(await claude.getUsageStats({ days: 1 })).toMatchObject({
          calls: 1,
          attempts: 2,
          errors: 0,
          costMicros: USAGE_MICROS,
        });
        expect(await metric('tollgate_claude_calls_total', { model: SONNET, outcome: 'success' })).toBe(before + 1);
      });

      it('a mid-stream error: finalMessage() rejects, the metric says error, input is charged', async () => {
        claude = backend.make({ limits: { [SONNET]: ROOMY }, retry: { baseMs: 1, capMs: 1 } });
        const before = await metric('tollgate_claude_calls_total', { model: SONNET, outcome: 'error' });
        fake.enqueue(reply.ok(USAGE, { stream: { errorAfter: 3 } }), reply.ok(USAGE));
        const stream = await claude.run(SONNET, params(), (p: Params) => anthropic.messages.stream(p));
        await rejection(stream.finalMessage());
        await claude.settled();
        expect(fake.calls).toBe(1);
        expect(await claude.getUsageStats({ days: 1 })).toMatchObject({ calls: 1, errors: 1, tokens: { input: 900 } });
        expect(await metric('tollgate_claude_calls_total', { model: SONNET, outcome: 'error' })).toBe(before + 1);
      });
    });

    describe('budgets treat streamed calls as any other', () => {
      it('a $0.01 daily budget lets 1 of 20 streamed calls through (was: 20 of 20)', async () => {
        claude = backend.make({ limits: { [SONNET]: ROOMY }, budgets: { daily: 0.01 } });
        fake.setDefaultUsage(USAGE);
        let through = 0;
        for (let i = 0; i < 20; i++) {
          try {
            const stream = await claude.run(SONNET, streamed(), (p: Stream) => anthropic.messages.create(p), {
              inputTokens: 900,
            });
            await drain(stream);
            await claude.settled();
            through++;
          } catch (error) {
            if (!(error instanceof BudgetExceededError)) throw error;
          }
        }
        // Each costs $0.0036; a second's worst case (900 in + 256 out = $0.00654) no longer fits.
        expect(through).toBe(1);
        expect(await claude.getUsageStats({ days: 1 })).toMatchObject({ calls: 1, costMicros: USAGE_MICROS });
      });

      it('the same 20 calls without streaming: also 1 (control)', async () => {
        claude = backend.make({ limits: { [SONNET]: ROOMY }, budgets: { daily: 0.01 } });
        fake.setDefaultUsage(USAGE);
        let through = 0;
        for (let i = 0; i < 20; i++) {
          try {
            await claude.run(SONNET, params(), (p) => anthropic.messages.create(p), { inputTokens: 900 });
            through++;
          } catch (error) {
            if (!(error instanceof BudgetExceededError)) throw error;
          }
        }
        expect(through).toBe(1);
      });
    });
  });
}
