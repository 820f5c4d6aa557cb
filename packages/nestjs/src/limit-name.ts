import { sha256Digest } from '@tollgate/core/stored-format';

/**
 * A `@RateLimit()` without a `name` is named after where it is written: `AuthController` for a
 * controller's limit, `AuthController.login` for a handler's, with `.2`, `.3` for further limits
 * on the same target. The same in every instance of the app, so a fleet shares the buckets.
 */
export function declaredAt(className: string, handlerName: string | undefined, index: number): string {
  const at = handlerName === undefined ? className : `${className}.${handlerName}`;
  return index === 0 ? at : `${at}.${index + 1}`;
}

/**
 * The limiter name behind `declaredAt`: readable, and ending in a digest of it, since the readable
 * part alone folds characters a store name does not accept (`$`, non-ASCII) together.
 */
export function limiterName(at: string): string {
  // UTF-16 code units, not UTF-8: lone surrogates would all encode to U+FFFD and collide.
  const digest = sha256Digest(Buffer.from(`nestjs ${at}`, 'utf16le'), { encoding: 'hex', length: 12 });
  const readable = at.replace(/[^A-Za-z0-9_.-]+/g, '_');
  return `${readable.slice(0, 64 - 13)}.${digest}`;
}

/** What clients see as the policy name (header items, `violated-policies`): printable ASCII, at most 128. */
export function policyName(at: string): string {
  const name = at.replace(/[^\x20-\x21\x23-\x2b\x2d-\x3a\x3c-\x5b\x5d-\x7e]/gu, '_');
  return name.length <= 128 ? name : `${name.slice(0, 125)}...`;
}
