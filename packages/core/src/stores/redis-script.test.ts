import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { BATCH_SCRIPT, BATCH_SCRIPT_SHA, BUCKET_SCRIPT, BUCKET_SCRIPT_SHA } from './redis-script.js';

describe('BUCKET_SCRIPT_SHA', () => {
  it('is the SHA-1 of the script that is sent, so EVALSHA finds what EVAL loaded', () => {
    expect(BUCKET_SCRIPT_SHA).toBe(createHash('sha1').update(BUCKET_SCRIPT, 'utf8').digest('hex'));
  });

  it('is pinned: editing the script is a deliberate change', () => {
    // A new SHA means every Redis answers NOSCRIPT once and loads the new script; buckets stay
    // where they are only if the stored layout (stores/bucket-codec.ts) is unchanged too.
    expect(BUCKET_SCRIPT_SHA).toBe('6bdaf02591bb1c17fd2bcdd8d36b6b7791668530');
  });

  it('pins the batch script too, which runs the one-decision script’s own text per key', () => {
    expect(BATCH_SCRIPT_SHA).toBe(createHash('sha1').update(BATCH_SCRIPT, 'utf8').digest('hex'));
    expect(BATCH_SCRIPT_SHA).toBe('e82fe90cec53f32e0967a43e715f0ac388bd550e');
    expect(BATCH_SCRIPT).toContain(BUCKET_SCRIPT.replace('\nlocal key = KEYS[1]\n', ''));
  });
});
