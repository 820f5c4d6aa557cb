import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { scriptSha, sha256Digest } from './digest.js';
import { tokenKey } from './http/client-key.js';
import { storeKey } from './stores/store-key.js';

describe('scriptSha', () => {
  it('is the SHA-1 of the script text in hex, the name EVALSHA knows it by', () => {
    expect(scriptSha('return 1')).toBe('e0e1f9fabfc9d4800c877a703b823ac0578ff8db');
    expect(scriptSha('return 1')).toBe(createHash('sha1').update('return 1').digest('hex'));
    // Strings are hashed as UTF-8, as Redis receives the script.
    expect(scriptSha("return 'é'")).toBe(createHash('sha1').update(Buffer.from("return 'é'", 'utf8')).digest('hex'));
  });
});

describe('sha256Digest', () => {
  it('keeps the outputs stored keys already carry (pinned: a change would move existing buckets)', () => {
    // storeKey('user 42') and tokenKey's digest, as tollgate has always written them.
    expect(sha256Digest('user 42')).toBe('0_EHiWmDVXpFbQ8VACVulm7HnrauTT4O');
    expect(sha256Digest('secret-token-1')).toBe('1bp40WEAB55Wfx99-XSpyXYax6r4cbqc');
    expect(tokenKey('secret-token-1')).toBe('tok:1bp40WEAB55Wfx99-XSpyXYax6r4cbqc');
    expect(storeKey('user 42')).toBe('#0_EHiWmDVXpFbQ8VACVulm7HnrauTT4O');
    // A lone surrogate is hashed from a marker byte and its UTF-16 code units.
    expect(storeKey('user:\ud800')).toBe('#N0M24msLzASvbmXlFkMLAsOtzfx_93E-');
  });

  it('is the first characters of the SHA-256 in the encoding asked for', () => {
    const full = createHash('sha256').update('ключ 🔑').digest();
    expect(sha256Digest('ключ 🔑')).toBe(full.toString('base64url').slice(0, 32));
    expect(sha256Digest('ключ 🔑', { encoding: 'hex', length: 12 })).toBe(full.toString('hex').slice(0, 12));
    expect(sha256Digest('ключ 🔑', { length: 64 })).toBe(full.toString('base64url'));
  });

  it('hashes several parts as their concatenation, bytes as they are', () => {
    const bytes = Buffer.from([0xff, 0x00, 0xd8]);
    expect(sha256Digest([bytes, 'a', Buffer.from('b')])).toBe(sha256Digest(Buffer.concat([bytes, Buffer.from('ab')])));
    expect(sha256Digest(new Uint8Array(bytes))).toBe(sha256Digest(bytes));
    expect(sha256Digest([])).toBe(sha256Digest(''));
  });
});
