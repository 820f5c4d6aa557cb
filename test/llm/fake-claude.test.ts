import Anthropic, { type APIError } from '@anthropic-ai/sdk';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { FakeClaude, reply } from '../helpers/fake-claude.js';
import { params, rejection, sdk } from './support.js';

/** The fake Claude API itself, as the real SDK sees it: the other LLM tests rely on this. */
describe('FakeClaude through the real SDK', () => {
  let fake: FakeClaude;
  let anthropic: Anthropic;
  beforeAll(async () => {
    fake = await FakeClaude.start();
    anthropic = sdk(fake.url);
  });
  beforeEach(() => fake.clear());
  afterAll(() => fake.close());

  it('answers a realistic message with usage, request-id and rate-limit headers', async () => {
    const { data, response, request_id } = await anthropic.messages.create(params('claude-haiku-4-5')).withResponse();
    expect(data).toMatchObject({
      type: 'message',
      role: 'assistant',
      model: 'claude-haiku-4-5',
      stop_reason: 'end_turn',
      content: [{ type: 'text' }],
      usage: {
        input_tokens: 25,
        output_tokens: 40,
        cache_creation_input_tokens: 0,
        cache_read_input_tokens: 0,
        cache_creation: { ephemeral_5m_input_tokens: 0, ephemeral_1h_input_tokens: 0 },
      },
    });
    expect(data.id).toMatch(/^msg_/);
    expect(request_id).toMatch(/^req_/);
    for (const name of ['requests', 'input-tokens', 'output-tokens', 'tokens']) {
      for (const part of ['limit', 'remaining']) {
        expect(Number(response.headers.get(`anthropic-ratelimit-${name}-${part}`))).toBeGreaterThan(0);
      }
      // When the bucket is full again: about now for one barely used (whole seconds), never a minute off.
      const reset = Date.parse(response.headers.get(`anthropic-ratelimit-${name}-reset`) ?? '');
      expect(reset).toBeGreaterThan(Date.now() - 2_000);
      expect(reset).toBeLessThanOrEqual(Date.now() + 60_000);
    }
    expect(fake.calls).toBe(1);
  });

  it('scripts usage, keeping cache_creation_input_tokens consistent with the split', async () => {
    fake.enqueue(reply.ok({ cache_creation: { ephemeral_1h_input_tokens: 300 }, cache_read_input_tokens: 9 }));
    const message = await anthropic.messages.create(params());
    expect(message.usage).toMatchObject({
      input_tokens: 25,
      cache_creation_input_tokens: 300,
      cache_read_input_tokens: 9,
      cache_creation: { ephemeral_5m_input_tokens: 0, ephemeral_1h_input_tokens: 300 },
    });
    expect(fake.requests[0]?.usage?.cache_creation_input_tokens).toBe(300);
  });

  it('a spend-cap 429 reaches the SDK as a RateLimitError with its error code and no retry-after', async () => {
    fake.enqueue(reply.spendCap('enforced_spend_limit_reached'));
    const error = await rejection(anthropic.messages.create(params()));
    expect(error).toBeInstanceOf(Anthropic.RateLimitError);
    const e = error as unknown as InstanceType<typeof Anthropic.RateLimitError>;
    expect(e.errorCode).toBe('enforced_spend_limit_reached');
    expect(e.type).toBe('rate_limit_error');
    expect(e.headers.get('retry-after')).toBeNull();
    expect(e.requestID).toMatch(/^req_/);
  });

  it('rate, ramp and overload errors carry their headers and types', async () => {
    fake.enqueue(reply.rateLimited({ retryAfter: 3 }), reply.ramp({ retryAfterMs: 20 }), reply.overloaded());
    const rate = (await rejection(anthropic.messages.create(params()))) as unknown as APIError;
    expect(rate.status).toBe(429);
    expect(rate.headers?.get('retry-after')).toBe('3');
    expect(rate.errorCode).toBeNull();
    const ramp = (await rejection(anthropic.messages.create(params()))) as unknown as APIError;
    expect(ramp.errorCode).toBe('ramp_limit_exceeded');
    expect(ramp.headers?.get('retry-after-ms')).toBe('20');
    const overloaded = await rejection(anthropic.messages.create(params()));
    expect(overloaded).toBeInstanceOf(Anthropic.OverloadedError);
    expect((overloaded as unknown as APIError).type).toBe('overloaded_error');
  });

  it('the SDK obeys the fake: x-should-retry and retry-after-ms drive its own retries', async () => {
    const retrying = new Anthropic({ apiKey: 'test', baseURL: fake.url, maxRetries: 2 });
    fake.enqueue(reply.status(400, { 'x-should-retry': 'true', 'retry-after-ms': '1' }), reply.ok());
    await retrying.messages.create(params());
    expect(fake.calls).toBe(2);
    expect(fake.messages()[1]?.headers['x-stainless-retry-count']).toBe('1');
  });

  it('records every request, unknown routes included', async () => {
    const res = await fetch(`${fake.url}/v1/nothing`);
    expect(res.status).toBe(404);
    expect(await res.json()).toMatchObject({ type: 'error', error: { type: 'not_found_error' } });
    await anthropic.messages.create(params('claude-opus-4-1', 10, 'hi'));
    expect(fake.requests.map((r) => `${r.method} ${r.path}`)).toEqual(['GET /v1/nothing', 'POST /v1/messages']);
    expect(fake.calls).toBe(1);
    expect(fake.messages()[0]?.body).toEqual(params('claude-opus-4-1', 10, 'hi'));
  });

  it('a raw body and removed headers are sent as scripted', async () => {
    fake.enqueue({ status: 500, body: 'upstream exploded', headers: { 'request-id': null } });
    const error = (await rejection(anthropic.messages.create(params()))) as unknown as APIError;
    expect(error.status).toBe(500);
    expect(error.message).toContain('upstream exploded');
    expect(error.requestID).toBeNull();
  });
});
