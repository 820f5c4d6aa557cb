import { createHash } from 'node:crypto';

/**
 * Every digest tollgate computes goes through here, so each of them is written once and pinned
 * once (digest.test.ts). Most end up in a stored name, a Redis key or a script's SHA, where
 * a changed output would move existing buckets or miss the server's script cache.
 */

/** What a digest covers: a string is read as its UTF-8 bytes; several parts as their concatenation. */
export type DigestInput = string | Uint8Array | readonly (string | Uint8Array)[];

/** The SHA-1 of a Lua script, in hex: the name Redis knows it by (`EVALSHA`, `SCRIPT EXISTS`). */
export function scriptSha(script: string): string {
  return createHash('sha1').update(script).digest('hex');
}

/**
 * A SHA-256 digest, in `encoding`, cut to its first `length` characters. The default, 32
 * characters of base64url (192 bits), is what store keys and token keys carry.
 */
export function sha256Digest(
  input: DigestInput,
  { encoding = 'base64url', length = 32 }: { encoding?: 'base64url' | 'hex'; length?: number } = {},
): string {
  const hash = createHash('sha256');
  for (const part of typeof input === 'string' || input instanceof Uint8Array ? [input] : input) hash.update(part);
  return hash.digest(encoding).slice(0, length);
}
