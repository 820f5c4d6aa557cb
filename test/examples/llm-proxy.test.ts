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
});
