import { describe, expect, it } from 'vitest';
import { InputCorrection, OutputEstimator } from '../engine/output-estimator.js';
import {
  CacheAwareEstimator,
  estimateInputTokens,
  imageSize,
  imageTokens,
  maxInputTokens,
  pdfPages,
  textTokens,
} from './estimate.js';

/** A PNG of the given size: only its header, which is all the estimate reads. */
function png(width: number, height: number): string {
  const header = Buffer.alloc(33);
  Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]).copy(header, 0);
  header.writeUInt32BE(13, 8);
  header.write('IHDR', 12, 'latin1');
  header.writeUInt32BE(width, 16);
  header.writeUInt32BE(height, 20);
  return Buffer.concat([header, Buffer.alloc(20_000, 7)]).toString('base64');
}

/** A PDF with `pages` page objects (and a /Pages tree, which is not a page). */
export function pdf(pages: number, padTo = 0): string {
  const objects = ['<< /Type /Catalog /Pages 2 0 R >>', `<< /Type /Pages /Count ${pages} >>`];
  for (let i = 0; i < pages; i++) objects.push('<< /Type /Page /Parent 2 0 R >>');
  const text = `%PDF-1.7\n${objects.map((o, i) => `${i + 1} 0 obj ${o} endobj`).join('\n')}\n`;
  return Buffer.from(text.padEnd(padTo, ' '), 'latin1').toString('base64');
}

const imageRequest = (data: string) => ({
  messages: [{ role: 'user', content: [{ type: 'image', source: { type: 'base64', media_type: 'image/png', data } }] }],
});

describe('estimateInputTokens (issue 15 defect 4)', () => {
  it('weighs text by character class: English near 3.4 characters a token, Japanese about one a character', () => {
    const english = 'The quick brown fox jumps over the lazy dog. '.repeat(60); // 2,700 characters
    const japanese = '日本語のテキストは一文字ずつ数えます。'.repeat(150); // 2,850 characters
    expect(japanese).toHaveLength(2_850);
    const en = estimateInputTokens({ messages: [{ role: 'user', content: english }] });
    const ja = estimateInputTokens({ messages: [{ role: 'user', content: japanese }] });
    expect(en).toBeGreaterThan(2_700 / 4);
    expect(en).toBeLessThan(2_700 / 3);
    // Was 952 (a third of the characters): now at least one a character.
    expect(ja).toBeGreaterThanOrEqual(2_850);
    expect(textTokens('日本').estimate).toBeCloseTo(2.4);
    expect(textTokens('ab').bound).toBe(2);
    expect(textTokens('日本').bound).toBe(6); // a token per UTF-8 byte at most
  });

  it('counts the keys of tool schemas, not only their values, and the tool-use system prompt', () => {
    const properties = Object.fromEntries(
      Array.from({ length: 40 }, (_, i) => [`field_name_${i}`, { type: 'string', description: `Field ${i}` }]),
    );
    const tool = { name: 'record', description: 'Store a record.', input_schema: { type: 'object', properties } };
    const chars = JSON.stringify(tool).length;
    expect(chars).toBeGreaterThan(1_800);
    const tokens = estimateInputTokens({ tools: [tool], messages: [{ role: 'user', content: 'hi' }] });
    // Was 91 (values only): now the keys, the JSON framing and 346 tokens of tool use.
    expect(tokens).toBeGreaterThan(346 + chars / 4);
  });

  it('reads an image by its pixel size: width × height / 750, scaled to fit 1,568 px and 1.15 MP', () => {
    expect(imageTokens(200, 200)).toBe(54);
    expect(imageTokens(1_000, 1_000)).toBe(1_334);
    expect(imageTokens(4_000, 3_000)).toBeLessThanOrEqual(1_534);
    expect(imageSize(Buffer.from(png(640, 480), 'base64'))).toEqual({ width: 640, height: 480 });
    const small = estimateInputTokens(imageRequest(png(200, 200)));
    const large = estimateInputTokens(imageRequest(png(1_000, 1_000)));
    // Was 2,008 for any image above 10,000 characters of base64.
    expect(small).toBeLessThan(100);
    expect(large).toBeGreaterThan(1_334);
    expect(large).toBeLessThan(1_400);
  });

  it('an unreadable image counts by its decoded size, at most a full image', () => {
    expect(estimateInputTokens(imageRequest('A'.repeat(40_000)))).toBeLessThan(400);
    expect(estimateInputTokens(imageRequest('A'.repeat(5_000_000)))).toBeLessThanOrEqual(1_700);
  });

  it('reads a PDF by its pages', () => {
    expect(pdfPages(Buffer.from(pdf(7), 'base64'))).toBe(7);
    const doc = (data: string) => ({
      messages: [
        {
          role: 'user',
          content: [{ type: 'document', source: { type: 'base64', media_type: 'application/pdf', data } }],
        },
      ],
    });
    expect(estimateInputTokens(doc(pdf(1)))).toBeLessThan(3_100);
    expect(estimateInputTokens(doc(pdf(10)))).toBeGreaterThan(30_000);
  });

  it('sums the requests of a batches.create body (was 1 token)', () => {
    const one = { model: 'claude-sonnet-5', max_tokens: 10, messages: [{ role: 'user', content: 'x'.repeat(3_000) }] };
    const single = estimateInputTokens(one);
    const batch = { requests: Array.from({ length: 5 }, (_, i) => ({ custom_id: `r${i}`, params: one })) };
    expect(estimateInputTokens(batch)).toBe(5 * single);
    expect(maxInputTokens(batch)).toBe(5 * maxInputTokens(one));
  });

  it('is small but at least 1 for an empty or unreadable request', () => {
    expect(estimateInputTokens(null)).toBe(1);
    expect(estimateInputTokens('a string is not a request')).toBe(1);
    expect(estimateInputTokens({})).toBeLessThan(10);
    expect(estimateInputTokens({ messages: [] })).toBeLessThan(10);
  });

  it('survives a deeply nested structure', () => {
    let deep: unknown = 'z'.repeat(300);
    for (let i = 0; i < 100; i++) deep = [deep];
    expect(estimateInputTokens({ messages: deep })).toBeLessThan(10);
  });
});

describe('maxInputTokens: the bound a budget holds (issue 15 defect 10)', () => {
  it('text: a token per UTF-8 byte at most', () => {
    const request = { messages: [{ role: 'user', content: 'é'.repeat(1_000) }] };
    expect(maxInputTokens(request)).toBeGreaterThanOrEqual(2_000);
    expect(maxInputTokens(request)).toBeGreaterThan(estimateInputTokens(request));
  });

  it('a PDF may hold any amount of compressed text: the whole context window', () => {
    const request = {
      model: 'claude-sonnet-4-6',
      messages: [
        {
          role: 'user',
          content: [
            { type: 'document', source: { type: 'base64', media_type: 'application/pdf', data: pdf(1, 45_000) } },
          ],
        },
      ],
    };
    expect(maxInputTokens(request)).toBe(200_000);
    expect(maxInputTokens({ ...request, betas: ['context-1m-2025-08-07'] })).toBe(1_000_000);
  });

  it('an image: at most 4,800 tokens', () => {
    expect(maxInputTokens(imageRequest(png(10_000, 10_000)))).toBeLessThan(4_900);
  });
});

describe('CacheAwareEstimator: cache reads do not count toward ITPM', () => {
  const cachedSystem = 'Reference manual. '.repeat(2_000); // 36,000 characters, well past 1,024 tokens
  const request = (question: string) => ({
    model: 'claude-sonnet-4-6',
    system: [{ type: 'text', text: cachedSystem, cache_control: { type: 'ephemeral' } }],
    messages: [{ role: 'user', content: question }],
  });

  it('reserves a cached prefix in full the first time (a cache write), then only what follows it', () => {
    const estimator = new CacheAwareEstimator();
    const full = estimator.estimate(request('First question?'), 0);
    expect(full).toBe(estimateInputTokens(request('First question?')));
    const again = estimator.estimate(request('Second question?'), 1_000);
    expect(again).toBeLessThan(50);
    // After the 5-minute lifetime the prefix is written again.
    expect(estimator.estimate(request('Third?'), 1_000 + 300_001)).toBeGreaterThan(full - 10);
  });

  it('a prefix shorter than 1,024 tokens is never cached, so never discounted', () => {
    const estimator = new CacheAwareEstimator();
    const short = {
      system: [{ type: 'text', text: 'Short.', cache_control: { type: 'ephemeral' } }],
      messages: [{ role: 'user', content: 'q' }],
    };
    expect(estimator.estimate(short, 0)).toBe(estimator.estimate(short, 1));
  });
});

describe('InputCorrection: reported ÷ estimated, learned per family', () => {
  it('raises later estimates toward what the API reports, never lowers them, and is bounded', () => {
    const c = new InputCorrection();
    expect(c.correct('f', 1_000)).toBe(1_000);
    c.observe('f', 1_000, 1_500);
    expect(c.correct('f', 1_000)).toBe(1_500);
    for (let i = 0; i < 20; i++) c.observe('f', 1_000, 1_500);
    expect(c.correct('f', 1_000)).toBe(1_500);
    expect(c.correct('other', 1_000)).toBe(1_000);
    c.observe('low', 1_000, 500);
    expect(c.correct('low', 1_000)).toBe(1_000);
    c.observe('odd', 1, 1_000_000);
    expect(c.factor('odd')).toBe(4);
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
