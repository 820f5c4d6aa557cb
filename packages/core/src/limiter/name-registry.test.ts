import { afterEach, describe, expect, it } from 'vitest';
import { InvalidOptionError } from '../errors.js';
import type { Logger } from '../log.js';
import { MemoryStore } from '../stores/memory-store.js';
import type { PolicyOptions } from './policy.js';
import { RateLimiter } from './rate-limiter.js';

const stores: MemoryStore[] = [];
afterEach(() => {
  for (const s of stores.splice(0)) s.close();
});

function memoryStore(): MemoryStore {
  const store = new MemoryStore();
  stores.push(store);
  return store;
}

/** A logger that keeps its warnings. */
function recorder(): Logger & { warnings: Array<{ fields: object; message: string }> } {
  const warnings: Array<{ fields: object; message: string }> = [];
  return {
    warnings,
    info() {},
    warn(fields, message) {
      warnings.push({ fields, message });
    },
    error() {},
  };
}

/** Alternates calls between two limiters on one client key; returns what each admitted. */
async function alternate(strict: RateLimiter, lax: RateLimiter, rounds: number) {
  let strictAdmitted = 0;
  let laxAdmitted = 0;
  for (let i = 0; i < rounds; i++) {
    if ((await strict.consume('client')).allowed) strictAdmitted++;
    if ((await lax.consume('client')).allowed) laxAdmitted++;
  }
  return { strictAdmitted, laxAdmitted };
}

describe('one name, other policies (issue 13, item 1)', () => {
  it('builds a second limiter with the same name and another policy, warning once with both policies', () => {
    const store = memoryStore();
    const logger = recorder();
    new RateLimiter({ name: 'report', max: 2, window: '15m', store, logger });
    expect(() => new RateLimiter({ name: 'report', max: 1000, window: '1m', store, logger })).not.toThrow();
    expect(logger.warnings).toHaveLength(1);
    const [warning] = logger.warnings;
    expect(warning?.message).toContain('"report"');
    expect(warning?.message).toContain('2-per-15m');
    expect(warning?.message).toContain('1000-per-1m');
    expect(warning?.message).toContain('count separately');
    expect(warning?.fields).toEqual({ limiter: 'report', policy: '1000-per-1m', otherPolicies: ['2-per-15m'] });
  });

  it('keeps the buckets of the two limiters apart on one MemoryStore: strict admits 2 of 8, lax 8 of 8', async () => {
    const store = memoryStore();
    const logger = recorder();
    const strict = new RateLimiter({ name: 'login', max: 2, window: '15m', store, logger });
    const lax = new RateLimiter({ name: 'login', max: 1000, window: '1m', store, logger });
    expect(strict.keyFor('client')).not.toBe(lax.keyFor('client'));
    expect(await alternate(strict, lax, 8)).toEqual({ strictAdmitted: 2, laxAdmitted: 8 });
    expect(strict.label).toBe('login');
    expect(lax.label).toBe('login');
  });

  it('puts the policy ids in a named key, as an unnamed limiter does', () => {
    const named = new RateLimiter({
      name: 'multi',
      policies: [
        { max: 10, window: '1s' },
        { max: 100, window: '1h' },
      ],
      store: memoryStore(),
    });
    const unnamed = new RateLimiter({
      policies: [
        { max: 10, window: '1s' },
        { max: 100, window: '1h' },
      ],
      store: memoryStore(),
    });
    const ids = unnamed.keyFor('k').slice('tollgate:p:'.length, -':k'.length);
    expect(ids).toBe(named.policies.map((p) => p.id).join('+'));
    expect(named.keyFor('k')).toBe(`tollgate:n:multi:${ids}:k`);
    expect(named.label).toBe('multi');
  });

  it('warns for a burst or an order of policies that differs, and for each new policy once', () => {
    const store = memoryStore();
    const logger = recorder();
    const two: PolicyOptions[] = [
      { max: 10, window: '1s' },
      { max: 100, window: '1h' },
    ];
    new RateLimiter({ name: 'multi', policies: two, store, logger });
    new RateLimiter({ name: 'multi', max: 10, window: '1s', store, logger });
    new RateLimiter({ name: 'multi', max: 10, window: '1s', store, logger });
    new RateLimiter({ name: 'multi', policies: [...two].reverse(), store, logger });
    new RateLimiter({ name: 'multi', max: 10, window: '1s', burst: 20, store, logger });
    expect(logger.warnings.map((w) => (w.fields as { policy: string }).policy)).toEqual([
      '10-per-1s',
      '100-per-1h + 10-per-1s',
      '10-per-1s-burst-20',
    ]);
    expect(logger.warnings[0]?.message).toContain('10-per-1s + 100-per-1h');
  });

  it('accepts the same name with the same policy (limiters built in a loop) silently, sharing buckets', async () => {
    const store = memoryStore();
    const logger = recorder();
    const limiters = Array.from(
      { length: 100 },
      () => new RateLimiter({ name: 'route', max: 3, window: 60_000, store, logger }),
    );
    const same = new RateLimiter({ name: 'route', max: 3, window: '1m', store, logger });
    for (const limiter of limiters.slice(0, 3)) expect((await limiter.consume('k')).allowed).toBe(true);
    expect((await same.consume('k')).allowed).toBe(false);
    expect(logger.warnings).toEqual([]);
  });

  it('does not warn for the same name on another store or under another prefix', () => {
    const store = memoryStore();
    const logger = recorder();
    new RateLimiter({ name: 'n', max: 2, window: '1m', store, logger });
    new RateLimiter({ name: 'n', max: 5, window: '1m', store: memoryStore(), logger });
    new RateLimiter({ name: 'n', max: 5, window: '1m', store, prefix: 'other', logger });
    new RateLimiter({ max: 5, window: '1m', store, logger });
    expect(logger.warnings).toEqual([]);
  });

  it('a limiter refused for another option does not take the name', () => {
    const store = memoryStore();
    const logger = recorder();
    expect(() => new RateLimiter({ name: 'n', max: 5, window: '1m', store, timeoutMs: 0, logger })).toThrow(
      InvalidOptionError,
    );
    new RateLimiter({ name: 'n', max: 2, window: '1m', store, logger });
    expect(logger.warnings).toEqual([]);
  });
});
