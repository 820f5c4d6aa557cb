import { createHash } from 'node:crypto';

/**
 * Input tokens of a Messages API request, before the call: an estimate close to what the API
 * will report (`estimateInputTokens`, what the rate-limit buckets reserve), and a bound it cannot
 * exceed (`maxInputTokens`, what spend budgets hold). The figures for images, PDFs and tool use
 * are the public ones of the Claude docs (the facts file lists none); the per-character weights
 * err a little high, and the engine's per-family correction learns the rest from settled calls.
 */

/** Tokens per character, by class: English runs near 3.5 characters a token, CJK near one a character. */
const WEIGHTS = {
  /** ASCII letters and digits. */
  word: 0.3,
  /** ASCII spaces and line breaks. */
  space: 0.1,
  /** ASCII punctuation and symbols: JSON's braces, quotes and colons are mostly tokens of their own. */
  punct: 0.6,
  /** Latin with accents, Greek, Cyrillic. */
  latin: 0.5,
  /** Han, kana, Hangul, full-width forms: a token a character, often more. */
  cjk: 1.2,
  /** Any other character of the Basic Multilingual Plane. */
  other: 0.8,
  /** Characters outside it (emoji): several tokens each. */
  astral: 2.5,
} as const;

/** Framing of the request and of each message or block (role markers, block delimiters). */
const REQUEST_OVERHEAD = 8;
const BLOCK_OVERHEAD = 4;
/** The system prompt the API adds when `tools` are given (346 tokens on current models). */
const TOOL_USE_TOKENS = 346;
/** Images past 1.15 megapixels or 1,568 px on the long edge are scaled down first: about 1,600 tokens at most. */
const IMAGE_MAX_TOKENS = 1_600;
const IMAGE_MAX_EDGE = 1_568;
const IMAGE_MAX_PIXELS = 1_150_000;
/**
 * The bound for one image: models that take high-resolution images (2,576 px) read up to about
 * 4,800 tokens of one.
 */
const IMAGE_BOUND_TOKENS = 4_800;
/** A PDF page is read as its text (1,500 to 3,000 tokens a page of prose) and as an image. */
const PDF_PAGE_TOKENS = 3_000;
/** A document the request only points at (URL, file id): ten pages, until the correction knows better. */
const UNSEEN_DOCUMENT_TOKENS = 10 * PDF_PAGE_TOKENS;
/** The context window: 200,000 tokens, or 1,000,000 with the `context-1m` beta. */
const CONTEXT_TOKENS = 200_000;
const LONG_CONTEXT_TOKENS = 1_000_000;
/** A prompt prefix shorter than this is never cached (1,024 on Sonnet and Opus; more on Haiku). */
const MIN_CACHED_TOKENS = 1_024;

type Size = { estimate: number; bound: number };
const zero = (): Size => ({ estimate: 0, bound: 0 });
const add = (into: Size, more: Size) => {
  into.estimate += more.estimate;
  into.bound += more.bound;
};

/** Estimated tokens of a text by its character classes, and the bound: one token per UTF-8 byte at most. */
export function textTokens(text: string): Size {
  let estimate = 0;
  for (const char of text) {
    const code = char.codePointAt(0) as number;
    if (code < 0x80) {
      if ((code >= 0x30 && code <= 0x39) || (code >= 0x41 && code <= 0x5a) || (code >= 0x61 && code <= 0x7a)) {
        estimate += WEIGHTS.word;
      } else if (code === 0x20 || (code >= 0x09 && code <= 0x0d)) estimate += WEIGHTS.space;
      else estimate += WEIGHTS.punct;
    } else if (code < 0x530) estimate += WEIGHTS.latin;
    else if (isCjk(code)) estimate += WEIGHTS.cjk;
    else if (code > 0xffff) estimate += WEIGHTS.astral;
    else estimate += WEIGHTS.other;
  }
  return { estimate, bound: Buffer.byteLength(text, 'utf8') };
}

function isCjk(code: number): boolean {
  return (
    (code >= 0x2e80 && code <= 0x9fff) || // radicals, punctuation, kana, CJK unified ideographs
    (code >= 0xac00 && code <= 0xd7af) || // Hangul syllables
    (code >= 0xf900 && code <= 0xfaff) || // compatibility ideographs
    (code >= 0xff00 && code <= 0xffef) // half- and full-width forms
  );
}

/** Width and height of a PNG, GIF, JPEG or WebP from its first bytes; undefined when unreadable. */
export function imageSize(bytes: Buffer): { width: number; height: number } | undefined {
  if (bytes.length >= 24 && bytes.readUInt32BE(0) === 0x89504e47) {
    return { width: bytes.readUInt32BE(16), height: bytes.readUInt32BE(20) };
  }
  if (bytes.length >= 10 && bytes.toString('latin1', 0, 3) === 'GIF') {
    return { width: bytes.readUInt16LE(6), height: bytes.readUInt16LE(8) };
  }
  if (bytes.length >= 30 && bytes.toString('latin1', 0, 4) === 'RIFF' && bytes.toString('latin1', 8, 12) === 'WEBP') {
    const kind = bytes.toString('latin1', 12, 16);
    if (kind === 'VP8X') return { width: 1 + bytes.readUIntLE(24, 3), height: 1 + bytes.readUIntLE(27, 3) };
    if (kind === 'VP8 ') return { width: bytes.readUInt16LE(26) & 0x3fff, height: bytes.readUInt16LE(28) & 0x3fff };
    if (kind === 'VP8L') {
      const bits = bytes.readUInt32LE(21);
      return { width: 1 + (bits & 0x3fff), height: 1 + ((bits >> 14) & 0x3fff) };
    }
  }
  if (bytes.length >= 4 && bytes[0] === 0xff && bytes[1] === 0xd8) {
    // Walk the JPEG segments to the frame header (SOF0-15, not DHT/JPG/DAC).
    let at = 2;
    while (at + 9 < bytes.length && bytes[at] === 0xff) {
      const marker = bytes[at + 1] as number;
      const length = bytes.readUInt16BE(at + 2);
      if (marker >= 0xc0 && marker <= 0xcf && marker !== 0xc4 && marker !== 0xc8 && marker !== 0xcc) {
        return { width: bytes.readUInt16BE(at + 7), height: bytes.readUInt16BE(at + 5) };
      }
      at += 2 + length;
    }
  }
  return undefined;
}

/** Tokens of an image of this size as the API reads it: scaled to fit, then width × height / 750. */
export function imageTokens(width: number, height: number): number {
  let scale = Math.min(1, IMAGE_MAX_EDGE / Math.max(width, height, 1));
  scale = Math.min(scale, Math.sqrt(IMAGE_MAX_PIXELS / Math.max(1, width * height)));
  return Math.ceil((width * scale * (height * scale)) / 750);
}

/** The leading bytes of base64 data, enough for any image header we read (64 KiB). */
function leadingBytes(data: string): Buffer {
  return Buffer.from(data.slice(0, 87_384), 'base64');
}

function decodedLength(data: string): number {
  return Math.floor((data.replace(/=+$/, '').length * 3) / 4);
}

function image(source: Record<string, unknown>): Size {
  if (source.type === 'base64' && typeof source.data === 'string') {
    const size = imageSize(leadingBytes(source.data));
    const estimate =
      size === undefined
        ? // Unreadable: by its size, about a token per 100 compressed bytes, at most a full image.
          Math.min(IMAGE_MAX_TOKENS, Math.ceil(decodedLength(source.data) / 100))
        : imageTokens(size.width, size.height);
    return { estimate, bound: IMAGE_BOUND_TOKENS };
  }
  return { estimate: IMAGE_MAX_TOKENS, bound: IMAGE_BOUND_TOKENS };
}

/** Pages of a PDF, from its page objects; by its size when they sit in compressed object streams. */
export function pdfPages(bytes: Buffer): number {
  const pages = bytes.toString('latin1').match(/\/Type\s*\/Page(?![A-Za-z])/g)?.length ?? 0;
  return pages > 0 ? pages : Math.max(1, Math.ceil(bytes.length / 50_000));
}

function document(source: Record<string, unknown>, window: number, depth: number): Size {
  if (source.type === 'text' && typeof source.data === 'string') return textTokens(source.data);
  if (source.type === 'content') return visit(source.content, window, depth + 1);
  if (source.type === 'base64' && typeof source.data === 'string') {
    // A PDF's pages may hold any amount of compressed text: only the context window bounds it.
    return { estimate: pdfPages(Buffer.from(source.data, 'base64')) * PDF_PAGE_TOKENS, bound: window };
  }
  return { estimate: UNSEEN_DOCUMENT_TOKENS, bound: window };
}

/** Tokens of any part of a request: text, content blocks, tool definitions (keys and values). */
function visit(value: unknown, window: number, depth = 0): Size {
  const size = zero();
  if (depth > 32 || value === undefined || value === null) return size;
  if (typeof value === 'string') return textTokens(value);
  if (typeof value === 'number' || typeof value === 'boolean') return textTokens(String(value));
  if (Array.isArray(value)) {
    for (const item of value) add(size, visit(item, window, depth + 1));
    return size;
  }
  if (typeof value !== 'object') return size;
  const block = value as Record<string, unknown>;
  const source = block.source;
  if (block.type === 'image' && typeof source === 'object' && source !== null) {
    add(size, image(source as Record<string, unknown>));
  } else if (block.type === 'document' && typeof source === 'object' && source !== null) {
    add(size, document(source as Record<string, unknown>, window, depth));
    for (const key of ['title', 'context'] as const) add(size, visit(block[key], window, depth + 1));
  } else {
    for (const [key, item] of Object.entries(block)) {
      // cache_control is an instruction, not prompt text; every other key is (tool schemas' property names).
      if (key === 'cache_control') continue;
      add(size, textTokens(key));
      add(size, visit(item, window, depth + 1));
    }
  }
  size.estimate += BLOCK_OVERHEAD;
  size.bound += BLOCK_OVERHEAD;
  return size;
}

/** The context window a request may fill. */
function contextWindow(request: Record<string, unknown>): number {
  const betas = request.betas;
  const long = Array.isArray(betas) && betas.some((b) => typeof b === 'string' && b.startsWith('context-1m'));
  return long ? LONG_CONTEXT_TOKENS : CONTEXT_TOKENS;
}

/** A request's prompt as the API reads it: tools, then system, then messages. */
function parts(request: Record<string, unknown>): unknown[] {
  const out: unknown[] = [];
  if (Array.isArray(request.tools)) out.push(...request.tools);
  if (Array.isArray(request.system)) out.push(...request.system);
  else if (request.system !== undefined) out.push(request.system);
  if (Array.isArray(request.messages)) {
    for (const message of request.messages) {
      const content = (message as { content?: unknown } | null)?.content;
      if (Array.isArray(content)) out.push(...content);
      else out.push(message);
    }
  }
  return out;
}

/** What one request's prompt holds: its size, and the cached prefix (up to the last `cache_control`). */
interface Prompt {
  readonly size: Size;
  readonly cached: { readonly tokens: number; readonly key: string; readonly ttlMs: number } | undefined;
}

function prompt(request: Record<string, unknown>): Prompt {
  const window = contextWindow(request);
  const size: Size = { estimate: REQUEST_OVERHEAD, bound: REQUEST_OVERHEAD };
  if (Array.isArray(request.tools) && request.tools.length > 0) {
    size.estimate += TOOL_USE_TOKENS;
    size.bound += TOOL_USE_TOKENS;
  }
  let cached: Prompt['cached'];
  const all = parts(request);
  all.forEach((part, i) => {
    add(size, visit(part, window));
    const control = (part as { cache_control?: { ttl?: unknown } } | null)?.cache_control;
    if (typeof control === 'object' && control !== null) {
      const prefix = JSON.stringify([request.model, all.slice(0, i + 1)]);
      cached = {
        tokens: Math.ceil(size.estimate),
        key: createHash('sha256').update(prefix).digest('base64url'),
        ttlMs: control.ttl === '1h' ? 3_600_000 : 300_000,
      };
    }
  });
  size.bound = Math.min(size.bound, window);
  size.estimate = Math.min(size.estimate, window);
  return { size, cached };
}

/** The requests of a `messages.batches.create` body, or undefined for a Messages request. */
function batchRequests(request: Record<string, unknown>): Record<string, unknown>[] | undefined {
  if (!Array.isArray(request.requests) || request.messages !== undefined) return undefined;
  return request.requests
    .map((r) => (r as { params?: unknown } | null)?.params)
    .filter((p): p is Record<string, unknown> => typeof p === 'object' && p !== null);
}

/**
 * Input tokens of a request, estimated before the call: every text by its character classes,
 * tool definitions with their keys, images by their pixel size (read from the data's header),
 * PDFs by their pages, a `batches.create` body as the sum of its requests. At least 1.
 */
export function estimateInputTokens(request: unknown): number {
  return Math.max(1, Math.ceil(sized(request, (p) => p.size.estimate)));
}

/**
 * The most input tokens the request can count: a token per UTF-8 byte of text at most, an image
 * at most 4,800 tokens, a PDF or a document given by reference up to the whole context window,
 * and no request more than its window (200,000 tokens, 1,000,000 with the `context-1m` beta).
 * What a spend budget holds for a call whose `inputTokens` the caller did not give.
 */
export function maxInputTokens(request: unknown): number {
  return Math.max(1, Math.ceil(sized(request, (p) => p.size.bound)));
}

function sized(request: unknown, pick: (p: Prompt) => number): number {
  if (typeof request !== 'object' || request === null) return 0;
  const r = request as Record<string, unknown>;
  const batch = batchRequests(r);
  if (batch !== undefined) return batch.reduce((sum, one) => sum + Math.max(1, Math.ceil(pick(prompt(one)))), 0);
  return pick(prompt(r));
}

/**
 * Estimates with prompt caching in mind: cache reads do not count toward the input-token limit,
 * so a prefix (up to a `cache_control` breakpoint) this process sent within its cache lifetime
 * is reserved as a read, not again in full. The first call with a prefix reserves it (a cache
 * write counts); settlement corrects a guess either way.
 */
export class CacheAwareEstimator {
  private readonly seen = new Map<string, number>();

  constructor(private readonly maxEntries = 1_000) {}

  estimate(request: unknown, now = Date.now()): number {
    if (typeof request !== 'object' || request === null || batchRequests(request as Record<string, unknown>)) {
      return estimateInputTokens(request);
    }
    const { size, cached } = prompt(request as Record<string, unknown>);
    const total = Math.max(1, Math.ceil(size.estimate));
    if (cached === undefined || cached.tokens < MIN_CACHED_TOKENS) return total;
    const until = this.seen.get(cached.key);
    // Each use refreshes the cache entry's lifetime, as the API does.
    this.seen.delete(cached.key);
    this.seen.set(cached.key, now + cached.ttlMs);
    if (this.seen.size > this.maxEntries) this.seen.delete(this.seen.keys().next().value as string);
    return until !== undefined && until > now ? Math.max(1, total - cached.tokens) : total;
  }
}
