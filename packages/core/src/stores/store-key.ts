import { createHash } from 'node:crypto';

/** Keys made only of these characters, and not too long, go to the store as they are. */
const SAFE = /^[A-Za-z0-9._:/@+=-]{1,100}$/;

/**
 * The form of a caller's key inside a store key. Safe keys (IPs, subnets, `user:42`) stay
 * readable; anything else (spaces, braces that would change a Redis Cluster hash slot, control
 * characters, very long input) is replaced by `#` and a SHA-256 digest, which no safe key can
 * start with, so the two forms never collide.
 */
export function storeKey(key: string): string {
  return SAFE.test(key) ? key : `#${createHash('sha256').update(key).digest('base64url').slice(0, 32)}`;
}
