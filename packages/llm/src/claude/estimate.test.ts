import { describe, expect, it } from 'vitest';
import { OutputEstimator } from '../engine/output-estimator.js';
import { estimateInputTokens } from './estimate.js';

describe('estimateInputTokens: about three characters per token', () => {
  it('counts the text of system, messages and tools, rounding up', () => {
    const request = {
      model: 'claude-sonnet-4-5-this-is-not-counted',
      max_tokens: 1024,
      system: 'x'.repeat(30),
      messages: [{ role: 'user', content: 'y'.repeat(296) }],
    };
    // 30 + 'user' (4) + 296 = 330 characters → 110 tokens
    expect(estimateInputTokens(request)).toBe(110);
    expect(estimateInputTokens({ ...request, system: 'x'.repeat(31) })).toBe(111);
  });

  it('reads content blocks and tool definitions', () => {
    const request = {
      messages: [{ role: 'user', content: [{ type: 'text', text: 'a'.repeat(590) }] }],
      tools: [{ name: 'get', description: 'd'.repeat(100), input_schema: { type: 'object' } }],
    };
    // 'user' 4 + 'text' 4 + 590 + 'get' 3 + 100 + 'object' 6 = 707 → 236
    expect(estimateInputTokens(request)).toBe(236);
  });

  it('a large base64 payload counts as a fixed amount, not by length', () => {
    const image = (length: number) => ({
      messages: [
        {
          role: 'user',
          content: [{ type: 'image', source: { type: 'base64', media_type: 'x', data: 'A'.repeat(length) } }],
        },
      ],
    });
    // 'user' 4 + 'image' 5 + 'base64' 6 + 'x' 1 + 6000 = 6016 → 2006, for any size above 10,000
    expect(estimateInputTokens(image(50_000))).toBe(2_006);
    expect(estimateInputTokens(image(5_000_000))).toBe(2_006);
  });

  it('is at least 1, for an empty or unreadable request', () => {
    expect(estimateInputTokens({})).toBe(1);
    expect(estimateInputTokens(null)).toBe(1);
    expect(estimateInputTokens('a string is not a request')).toBe(1);
    expect(estimateInputTokens({ messages: [] })).toBe(1);
  });

  it('survives a deeply nested or cyclic-looking structure', () => {
    let deep: unknown = 'z'.repeat(300);
    for (let i = 0; i < 100; i++) deep = [deep];
    expect(estimateInputTokens({ messages: deep })).toBe(1);
  });
});

describe('OutputEstimator: a running typical output', () => {
  it('starts at 1024, never above max_tokens', () => {
    const e = new OutputEstimator();
    expect(e.reserve('m', undefined)).toBe(1024);
    expect(e.reserve('m', 100)).toBe(100);
    expect(e.reserve('m', 4096)).toBe(1024);
  });

  it('follows observed output with an exponentially weighted mean, per model', () => {
    const e = new OutputEstimator(1024);
    e.observe('m', 100);
    expect(e.reserve('m', undefined)).toBe(100);
    e.observe('m', 200); // 100 × 0.8 + 200 × 0.2 = 120
    expect(e.reserve('m', undefined)).toBe(120);
    e.observe('m', 1); // 120 × 0.8 + 0.2 = 96.2 → 97
    expect(e.reserve('m', undefined)).toBe(97);
    expect(e.reserve('other', undefined)).toBe(1024);
  });
});
