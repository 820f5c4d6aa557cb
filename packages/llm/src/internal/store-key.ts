import { sha256Digest } from '@tollgate/core/stored-format';

/** Keys made only of these characters, and not too long, go to the store as they are. */
const SAFE = /^[A-Za-z0-9._:/@+=-]{1,100}$/;
const LONE_SURROGATE = /[\uD800-\uDFFF]/u;
/** 0xFF never occurs in UTF-8: a digest of UTF-16 code units can never equal another key's. */
const CODE_UNITS = Buffer.from([0xff]);

/**
 * A family name or tenant inside a store key, written as core writes a client key (core's
 * `storeKey`, not exported): safe names stay readable, anything else becomes `#` and a digest.
 */
export function storeKey(key: string): string {
  if (SAFE.test(key)) return key;
  const bytes = LONE_SURROGATE.test(key) ? [CODE_UNITS, Buffer.from(key, 'utf16le')] : key;
  return `#${sha256Digest(bytes)}`;
}
