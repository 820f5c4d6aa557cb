import { afterEach, describe, expect, it } from 'vitest';
import { ErrorCodes, InvalidOptionError } from '../errors.js';
import { MemoryStore } from '../stores/memory-store.js';
import { RateLimiter, type RateLimiterOptions } from './rate-limiter.js';

const stores: MemoryStore[] = [];
afterEach(() => {
  for (const s of stores.splice(0)) s.close();
});

function memoryStore(): MemoryStore {
  const store = new MemoryStore();
  stores.push(store);
  return store;
}

function refusal(options: RateLimiterOptions): InvalidOptionError {
  try {
    new RateLimiter(options);
  } catch (error) {
    expect(error).toBeInstanceOf(InvalidOptionError);
    return error as InvalidOptionError;
  }
  throw new Error('the limiter was built');
}

describe('one name, one policy per store', () => {
  it('refuses a second limiter with the same name and another policy, naming both policies', () => {
    const store = memoryStore();
    new RateLimiter({ name: 'report', max: 2, window: '15m', store });
    const error = refusal({ name: 'report', max: 1000, window: '1m', store });
    expect(error.code).toBe(ErrorCodes.INVALID_OPTION);
    expect(error.option).toBe('name');
    expect(error.value).toBe('report');
    expect(error.message).toContain('`name` is "report"');
    expect(error.message).toContain('2-per-15m');
    expect(error.message).toContain('1000-per-1m');
  });

  it('refuses a burst or an order of policies that differs', () => {
    const store = memoryStore();
    new RateLimiter({
      name: 'multi',
      policies: [
        { max: 10, window: '1s' },
        { max: 100, window: '1h' },
      ],
      store,
    });
    expect(refusal({ name: 'multi', max: 10, window: '1s', store }).message).toContain('10-per-1s + 100-per-1h');
    const reordered = refusal({
      name: 'multi',
      policies: [
        { max: 100, window: '1h' },
        { max: 10, window: '1s' },
      ],
      store,
    });
    expect(reordered.option).toBe('name');
    const other = memoryStore();
    new RateLimiter({ name: 'b', max: 10, window: '1s', store: other });
    expect(refusal({ name: 'b', max: 10, window: '1s', burst: 20, store: other }).message).toContain(
      '10-per-1s-burst-20',
    );
  });

  it('accepts the same name with the same policy (limiters built in a loop), sharing buckets', async () => {
    const store = memoryStore();
    const limiters = Array.from(
      { length: 100 },
      () => new RateLimiter({ name: 'route', max: 3, window: 60_000, store }),
    );
    const same = new RateLimiter({ name: 'route', max: 3, window: '1m', store });
    for (const limiter of limiters.slice(0, 3)) expect((await limiter.consume('k')).allowed).toBe(true);
    expect((await same.consume('k')).allowed).toBe(false);
  });

  it('accepts the same name on another store or under another prefix', () => {
    const store = memoryStore();
    new RateLimiter({ name: 'n', max: 2, window: '1m', store });
    expect(() => new RateLimiter({ name: 'n', max: 5, window: '1m', store: memoryStore() })).not.toThrow();
    expect(() => new RateLimiter({ name: 'n', max: 5, window: '1m', store, prefix: 'other' })).not.toThrow();
    expect(() => new RateLimiter({ max: 5, window: '1m', store })).not.toThrow();
  });

  it('a limiter refused for another option does not take the name', () => {
    const store = memoryStore();
    expect(() => new RateLimiter({ name: 'n', max: 5, window: '1m', store, timeoutMs: 0 })).toThrow(InvalidOptionError);
    expect(() => new RateLimiter({ name: 'n', max: 2, window: '1m', store })).not.toThrow();
  });
});
