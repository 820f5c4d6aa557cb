import { describe, expect, it } from 'vitest';
import { ErrorCodes, InvalidOptionError } from '../errors.js';
import { HttpRateLimiter } from '../http/http-limiter.js';
import { RateLimiter } from '../limiter/rate-limiter.js';
import { MemoryStore } from '../stores/memory-store.js';

const reader = { ip: () => '127.0.0.1', header: () => undefined };

function refusal(build: () => unknown): InvalidOptionError {
  try {
    build();
  } catch (error) {
    if (error instanceof InvalidOptionError) return error;
    throw error;
  }
  throw new Error('expected the options to be refused');
}

describe("a peer library's option name", () => {
  it.each([
    ['windowMs', 60_000, /express-rate-limit's `windowMs` is tollgate's `window`/],
    ['limit', 100, /is tollgate's `max`/],
    ['keyGenerator', () => 'k', /`keyGenerator` is tollgate's `key`/],
    ['timeWindow', '1 minute', /@fastify\/rate-limit's `timeWindow` is tollgate's `window`/],
    ['points', 10, /rate-limiter-flexible's `points` is tollgate's `max`/],
    ['duration', 1, /`duration` \(seconds\) is tollgate's `window` \(milliseconds/],
    ['ttl', 60_000, /@nestjs\/throttler's `ttl` is tollgate's `window`/],
    ['standardHeaders', 'draft-7', /is tollgate's `headers`/],
    ['legacyHeaders', true, /`headers: 'legacy'`/],
    ['message', 'slow down', /is tollgate's `handler`/],
    ['statusCode', 503, /a refusal is 429/],
    ['ban', 3, /is tollgate's `block: \{ after, within, for \}`/],
    ['blockDuration', 60, /is tollgate's `block: \{ after, within, for \}`/],
    ['limiter', {}, /tollgate builds its own/],
  ])('%s in rateLimit() is refused, naming the equivalent', (name, value, hint) => {
    const error = refusal(() => new HttpRateLimiter({ max: 10, window: '1m', [name]: value } as never, reader));
    expect(error.code).toBe(ErrorCodes.UNKNOWN_OPTION);
    expect(error.option).toBe(name);
    expect(error.message).toMatch(hint);
    expect(error.message).toContain(`rateLimit does not take \`${name}\`; see docs/migrating.md`);
  });

  it('is named in new RateLimiter() and in a policy too', () => {
    expect(refusal(() => new RateLimiter({ points: 10, duration: 1 } as never)).message).toMatch(
      /rate-limiter-flexible's `points` is tollgate's `max`/,
    );
    expect(
      refusal(() => new RateLimiter({ policies: [{ max: 1, window: '1s', windowMs: 1000 }] } as never)).message,
    ).toMatch(/`windowMs` is tollgate's `window`/);
  });

  it('an option of rateLimit() given to the core limiter says where it belongs', () => {
    expect(
      refusal(() => new RateLimiter({ max: 1, window: '1s', skipSuccessfulRequests: true } as never)).message,
    ).toMatch(/`skipSuccessfulRequests` is an option of an adapter's rateLimit\(\).*refund\(key, cost\)/);
    // …and rateLimit() takes it.
    expect(
      () =>
        new HttpRateLimiter({ max: 10, window: '1m', skipSuccessfulRequests: true } as never, {
          ...reader,
          whenDone: () => {},
        }),
    ).not.toThrow();
  });

  it('gets no hint outside a limiter, where the name may mean something else', () => {
    const error = refusal(() => new MemoryStore({ ttl: 5 } as never));
    expect(error.code).toBe(ErrorCodes.UNKNOWN_OPTION);
    expect(error.message).toContain('MemoryStore accepts only:');
    expect(error.message).not.toContain('@nestjs/throttler');
  });

  it('a plain typo still lists what is accepted', () => {
    const error = refusal(() => new HttpRateLimiter({ max: 10, window: '1m', maxx: 5 } as never, reader));
    expect(error.message).toMatch(/rateLimit accepts only: max, window/);
  });
});
