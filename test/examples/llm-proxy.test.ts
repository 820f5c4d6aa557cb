import { afterAll, describe, expect, it } from 'vitest';
// @ts-expect-error: the example is plain JavaScript.
import { start } from '../../examples/llm-proxy/app.js';

describe('examples/llm-proxy against the fake Claude API, with no key', async () => {
  const { ANTHROPIC_API_KEY: _key, REDIS_URL: _redis, ...env } = process.env;
  process.env = env;
  const proxy = (await start()) as { url: string; close(): Promise<void> };
  afterAll(() => proxy.close());

  it('forwards a message through run(), then reports its cost and tokens at /usage and /metrics', async () => {
    const res = await fetch(`${proxy.url}/v1/messages`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: 'Bearer demo' },
      body: JSON.stringify({
        model: 'claude-sonnet-5',
        max_tokens: 256,
        messages: [{ role: 'user', content: 'Hello' }],
      }),
    });
    expect(res.status).toBe(200);
    const message = (await res.json()) as { usage: { input_tokens: number; output_tokens: number } };
    const { input_tokens: input, output_tokens: output } = message.usage;
    const usage = (await (await fetch(`${proxy.url}/usage?days=1`)).json()) as {
      calls: number;
      costMicros: number;
      models: Record<string, { tokens: { input: number; output: number } }>;
    };
    expect(usage.calls).toBe(1);
    // claude-sonnet-5: $2 input and $10 output per million tokens, so 2 and 10 micro-dollars a token.
    expect(usage.costMicros).toBe(input * 2 + output * 10);
    expect(usage.models['claude-sonnet-5']?.tokens).toMatchObject({ input, output });
    const metrics = await (await fetch(`${proxy.url}/metrics`)).text();
    expect(metrics).toContain('tollgate_claude_calls_total{model="claude-sonnet-5",outcome="success"} 1');
    expect(metrics).toContain(`tollgate_claude_tokens_total{model="claude-sonnet-5",type="output"} ${output}`);
  });

  it('passes a streamed request through as server-sent events, limited and recorded', async () => {
    const res = await fetch(`${proxy.url}/v1/messages`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: 'Bearer demo' },
      body: JSON.stringify({
        model: 'claude-haiku-4-5',
        max_tokens: 256,
        stream: true,
        messages: [{ role: 'user', content: 'Hello, streamed' }],
      }),
    });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/event-stream/);
    const text = await res.text();
    const events = [...text.matchAll(/^event: (\S+)$/gm)].map((m) => m[1]);
    expect(events).toEqual([
      'message_start',
      'content_block_start',
      'content_block_delta',
      'content_block_stop',
      'message_delta',
      'message_stop',
    ]);
    const data = [...text.matchAll(/^data: (.+)$/gm)].map((m) => JSON.parse(m[1] as string));
    const input = data[0].message.usage.input_tokens as number;
    const output = data[4].usage.output_tokens as number;
    // The limiter settles the stream once it is over; the answer's end came just before.
    await expect
      .poll(async () => {
        const usage = (await (await fetch(`${proxy.url}/usage?days=1`)).json()) as {
          models: Record<string, { calls: number; tokens: { input: number; output: number } }>;
        };
        return usage.models['claude-haiku-4-5'];
      })
      .toMatchObject({ calls: 1, tokens: { input, output } });
    const metrics = await (await fetch(`${proxy.url}/metrics`)).text();
    expect(metrics).toContain('tollgate_claude_calls_total{model="claude-haiku-4-5",outcome="success"} 1');
  });

  it.each([
    ['no model', { max_tokens: 16, messages: [{ role: 'user', content: 'Hi' }] }, 'TOLLGATE_INVALID_MODEL'],
    ['a numeric model', { model: 42, max_tokens: 16, messages: [] }, 'TOLLGATE_INVALID_MODEL'],
    ['an empty model', { model: '', max_tokens: 16, messages: [] }, 'TOLLGATE_INVALID_MODEL'],
    ['a body that is not an object', [1, 2], undefined],
  ])('answers %s with a 400 problem+json (was: a 500 HTML stack)', async (_name, body, code) => {
    const res = await fetch(`${proxy.url}/v1/messages`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: 'Bearer demo' },
      body: JSON.stringify(body),
    });
    expect(res.status).toBe(400);
    expect(res.headers.get('content-type')).toMatch(/^application\/problem\+json/);
    const problem = (await res.json()) as { status: number; code?: string };
    expect(problem.status).toBe(400);
    expect(problem.code).toBe(code);
  });

  it('answers /usage?days=abc with a 400 problem+json (was: a 500 HTML stack)', async () => {
    for (const days of ['abc', '0', '99']) {
      const res = await fetch(`${proxy.url}/usage?days=${days}`);
      expect(res.status).toBe(400);
      expect(res.headers.get('content-type')).toMatch(/^application\/problem\+json/);
      expect(await res.json()).toMatchObject({ status: 400, code: 'TOLLGATE_INVALID_OPTION' });
    }
  });
});
