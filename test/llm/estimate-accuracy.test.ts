import { ClaudeRateLimiter } from '@tollgate/llm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FakeClaude, type ReceivedRequest } from '../helpers/fake-claude.js';
import { collectingLogger, sdk } from './support.js';

/**
 * Issue 15 defect 4, through the real SDK: the fake API reports usage from a reference count of
 * what it received (independent of the limiter's estimate: word pieces as a BPE tokenizer cuts
 * them, an image's pixels ÷ 750, a PDF's pages at 3,900 tokens each, the cached prefix as a
 * cache write then as cache reads), and the limiter's reservation is compared with it.
 */

/**
 * Word pieces, a leading space joined to its word; JSON punctuation in runs of up to three (`":"`);
 * any other character a token; Han a little more.
 */
function referenceText(text: string): number {
  const pieces = text.match(/ ?[A-Za-z]{1,6}| ?\d{1,3}|\s+|[{}[\]":,]{1,3}|[^\p{ASCII}]|[^\sA-Za-z\d]/gu)?.length ?? 0;
  const han = text.match(/[\u4e00-\u9fff]/gu)?.length ?? 0;
  return pieces + Math.ceil(han * 0.1);
}

const PDF_PAGE_REPORTED = 3_900;

function referenceBlock(block: unknown): number {
  if (typeof block === 'string') return referenceText(block);
  const b = block as { type?: string; text?: string; source?: { data?: string } };
  if (b.type === 'image') {
    const bytes = Buffer.from(b.source?.data ?? '', 'base64');
    const w = bytes.readUInt32BE(16);
    const h = bytes.readUInt32BE(20);
    const scale = Math.min(1, 1_568 / Math.max(w, h), Math.sqrt(1_150_000 / (w * h)));
    return Math.ceil((w * scale * h * scale) / 750);
  }
  if (b.type === 'document') {
    const pages = Buffer.from(b.source?.data ?? '', 'base64')
      .toString('latin1')
      .match(/\/Type \/Page\b(?!s)/g);
    return (pages?.length ?? 1) * PDF_PAGE_REPORTED;
  }
  return referenceText(b.text ?? JSON.stringify(block));
}

/** What the fake API reports for a request: the reference count, cached prefixes as the API splits them. */
function referenceUsage(body: unknown, seen: Set<string>) {
  const r = body as {
    system?: Array<{ text: string; cache_control?: unknown }> | string;
    messages: Array<{ content: unknown }>;
    tools?: unknown[];
  };
  let input = 4;
  let cacheWrite = 0;
  let cacheRead = 0;
  if (r.tools !== undefined) input += 346 + referenceText(JSON.stringify(r.tools));
  for (const block of typeof r.system === 'string' ? [r.system] : (r.system ?? [])) {
    const n = referenceBlock(block);
    if (typeof block !== 'string' && block.cache_control !== undefined) {
      if (seen.has(block.text)) cacheRead += n;
      else cacheWrite += n;
      seen.add(block.text);
    } else input += n;
  }
  for (const m of r.messages) {
    for (const block of Array.isArray(m.content) ? m.content : [m.content]) input += 3 + referenceBlock(block);
  }
  return {
    input_tokens: input,
    output_tokens: 20,
    cache_creation_input_tokens: cacheWrite,
    cache_read_input_tokens: cacheRead,
  };
}

function png(width: number, height: number): string {
  const header = Buffer.alloc(33);
  Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]).copy(header, 0);
  header.writeUInt32BE(13, 8);
  header.write('IHDR', 12, 'latin1');
  header.writeUInt32BE(width, 16);
  header.writeUInt32BE(height, 20);
  return Buffer.concat([header, Buffer.alloc(60_000, 7)]).toString('base64');
}

function pdf(pages: number): string {
  const objects = ['<< /Type /Catalog /Pages 2 0 R >>', `<< /Type /Pages /Count ${pages} >>`];
  for (let i = 0; i < pages; i++) objects.push('<< /Type /Page /Parent 2 0 R >>');
  return Buffer.from(`%PDF-1.7\n${objects.map((o, i) => `${i + 1} 0 obj ${o} endobj`).join('\n')}\n`).toString(
    'base64',
  );
}

const MODEL = 'claude-sonnet-4-6';
const user = (content: unknown) => ({ model: MODEL, max_tokens: 20, messages: [{ role: 'user' as const, content }] });
const properties = Object.fromEntries(
  Array.from({ length: 40 }, (_, i) => [`customer_field_${i}`, { type: 'string', description: `Value ${i}` }]),
);
const manual = 'Section 4.2: the reset procedure. Hold the button for ten seconds, then release. '.repeat(400);

const SCENARIOS: ReadonlyArray<readonly [string, Record<string, unknown>]> = [
  ['English text (2,700 characters)', user('The quick brown fox jumps over the lazy dog. '.repeat(60))],
  ['Japanese text (2,850 characters)', user('日本語のテキストは一文字ずつ数えます。'.repeat(150))],
  [
    'a tool with 40 properties',
    {
      ...user('Save it.'),
      tools: [{ name: 'save', description: 'Saves a record.', input_schema: { type: 'object', properties } }],
    },
  ],
  [
    'a 200×200 image',
    user([{ type: 'image', source: { type: 'base64', media_type: 'image/png', data: png(200, 200) } }]),
  ],
  [
    'a 1000×1000 image',
    user([{ type: 'image', source: { type: 'base64', media_type: 'image/png', data: png(1_000, 1_000) } }]),
  ],
];
/** Reported at 3,900 tokens a page, above the 3,000 the estimate starts from: what the correction learns. */
const PDF_REQUEST = user([
  { type: 'document', source: { type: 'base64', media_type: 'application/pdf', data: pdf(5) } },
]);

describe('input estimates against what the API reports, through the SDK', () => {
  let fake: FakeClaude;
  const seen = new Set<string>();
  beforeAll(async () => {
    fake = await FakeClaude.start({ respond: (r: ReceivedRequest) => ({ usage: referenceUsage(r.body, seen) }) });
  });
  afterAll(() => fake.close());

  /** One call: the reservation's input, and the input that counted toward ITPM as reported. */
  async function measure(claude: ClaudeRateLimiter, request: Record<string, unknown>) {
    const anthropic = sdk(fake.url);
    const reservation = await claude.checkLimit(MODEL, { request, maxTokens: 20 });
    const message = await anthropic.messages.create(request as never);
    await reservation.settle(message.usage);
    const u = message.usage;
    return { estimated: reservation.inputTokens, reported: u.input_tokens + (u.cache_creation_input_tokens ?? 0) };
  }

  it.each(SCENARIOS)('%s: within 25% of the reported count, erring high', async (label, request) => {
    const claude = new ClaudeRateLimiter({
      logger: collectingLogger().logger,
      limits: { '*': { rpm: 1_000, itpm: 1_000_000, otpm: 100_000 } },
    });
    const { estimated, reported } = await measure(claude, request);
    console.log(
      `estimate ${label}: estimated ${estimated}, reported ${reported} (${((estimated / reported) * 100).toFixed(0)}%)`,
    );
    expect(estimated).toBeGreaterThanOrEqual(reported * 0.9);
    expect(estimated).toBeLessThanOrEqual(reported * 1.25);
  });

  it('a cached prompt is reserved in full once (a cache write), then as cache reads that do not count', async () => {
    const claude = new ClaudeRateLimiter({
      logger: collectingLogger().logger,
      limits: { '*': { rpm: 1_000, itpm: 1_000_000, otpm: 100_000 } },
    });
    const request = (q: string) => ({
      ...user(q),
      system: [{ type: 'text', text: manual, cache_control: { type: 'ephemeral' } }],
    });
    const first = await measure(claude, request('How do I reset it?'));
    const second = await measure(claude, request('And how long do I hold it?'));
    console.log(
      `estimate cached prompt (${manual.length} characters): first call estimated ${first.estimated}, reported ${first.reported}; ` +
        `next call estimated ${second.estimated}, reported ${second.reported} counting toward ITPM`,
    );
    expect(first.estimated).toBeGreaterThanOrEqual(first.reported * 0.9);
    expect(second.reported).toBeLessThan(50);
    expect(second.estimated).toBeLessThan(100);
    // A prefix written again (another process's cache expired, say) reports 9,000 where 16 were
    // estimated: cached calls teach the correction nothing, so the family's estimates stay put.
    const fresh = new ClaudeRateLimiter({
      logger: collectingLogger().logger,
      limits: { '*': { rpm: 1_000, itpm: 1_000_000, otpm: 100_000 } },
    });
    seen.clear();
    await measure(claude, request('Once more?'));
    const english = SCENARIOS[0]?.[1] as Record<string, unknown>;
    expect((await measure(claude, english)).estimated).toBe((await measure(fresh, english)).estimated);
  });

  it('the per-family correction closes the gap a family keeps showing, through run()', async () => {
    // The fake reports 3,900 tokens a PDF page; the estimate starts at 3,000.
    const claude = new ClaudeRateLimiter({
      logger: collectingLogger().logger,
      limits: { '*': { rpm: 1_000, itpm: 1_000_000, otpm: 100_000 } },
    });
    const anthropic = sdk(fake.url);
    const request = PDF_REQUEST;
    const before = await measure(claude, request);
    for (let i = 0; i < 10; i++) {
      await claude.run(MODEL, request as never, (p: never) => anthropic.messages.create(p).withResponse());
    }
    const after = await measure(claude, request);
    console.log(
      `estimate correction, 5-page PDF: first call estimated ${before.estimated} of ${before.reported} reported; ` +
        `after 11 settled calls ${after.estimated} of ${after.reported}`,
    );
    expect(before.estimated).toBeLessThan(before.reported * 0.8);
    expect(after.estimated).toBeGreaterThanOrEqual(after.reported * 0.95);
    expect(after.estimated).toBeLessThanOrEqual(after.reported * 1.1);
  });
});
