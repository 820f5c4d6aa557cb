import { sha256Digest } from '../digest.js';

/** Keys made only of these characters, and not too long, go to the store as they are. */
const SAFE = /^[A-Za-z0-9._:/@+=-]{1,100}$/;

/** A UTF-16 surrogate with no partner: in `u` mode a valid pair reads as one code point and does not match. */
const LONE_SURROGATE = /[\uD800-\uDFFF]/u;

/**
 * Marks a digest input taken from UTF-16 code units. The byte 0xFF never occurs in UTF-8, so such
 * an input can never equal the UTF-8 bytes of another key.
 */
const CODE_UNITS = Buffer.from([0xff]);

/**
 * The form of a caller's key inside a store key. Safe keys (IPs, subnets, `user:42`) stay
 * readable; anything else (spaces, braces that would change a Redis Cluster hash slot, control
 * characters, very long input) is replaced by `#` and a SHA-256 digest, which no safe key can
 * start with, so the two forms never collide.
 *
 * The digest covers the key's UTF-8 bytes. UTF-8 cannot encode a lone surrogate (it becomes
 * U+FFFD, so `'\ud800'` and `'\udfff'` would share a bucket): such a key is hashed from its
 * UTF-16 code units instead, after a marker byte that keeps it apart from every UTF-8 input.
 * Well-formed keys keep the digest they always had, so existing buckets stay where they are.
 */
export function storeKey(key: string): string {
  if (SAFE.test(key)) return key;
  const bytes = LONE_SURROGATE.test(key) ? [CODE_UNITS, Buffer.from(key, 'utf16le')] : key;
  return `#${sha256Digest(bytes)}`;
}
