import { afterEach, describe, expect, it } from 'vitest';
import { InvalidOptionError } from '../errors.js';
import { MemoryStore } from '../stores/memory-store.js';
import type { Store } from '../stores/store.js';
import { RateLimiter, type RateLimiterOptions } from './rate-limiter.js';

// Options must be read from the caller's own properties: an app with a prototype-pollution bug
// elsewhere must not be able to lift its rate limits through `Object.prototype`.

const stores: MemoryStore[] = [];
afterEach(() => {
  for (const s of stores.splice(0)) s.close();
});

function memoryStore(): MemoryStore {
  const store = new MemoryStore();
  stores.push(store);
  return store;
}

/** Builds a limiter while `proto[name]` holds `value`; the pollution never outlives the constructor. */
function buildPolluted(proto: object, name: string, value: unknown, options: RateLimiterOptions): RateLimiter {
  const target = proto as Record<string, unknown>;
  target[name] = value;
  try {
    return new RateLimiter(options);
  } finally {
    delete target[name];
  }
}

async function admitted(limiter: RateLimiter, calls: number): Promise<number> {
  let n = 0;
  for (let i = 0; i < calls; i++) if ((await limiter.consume('client')).allowed) n += 1;
  return n;
}

describe('RateLimiter options are read from own properties only', () => {
  it('Object.prototype.burst does not raise an inline policy', async () => {
    const limiter = buildPolluted(Object.prototype, 'burst', 1e6, { max: 2, window: '1m', store: memoryStore() });
    expect(limiter.policies[0]?.capacity).toBe(2);
    expect(await admitted(limiter, 5)).toBe(2);
  });

  it('Object.prototype.burst does not raise a policy of `policies`', async () => {
    const limiter = buildPolluted(Object.prototype, 'burst', 1e6, {
      policies: [{ max: 2, window: '1m' }],
      store: memoryStore(),
    });
    expect(limiter.policies[0]?.capacity).toBe(2);
    expect(await admitted(limiter, 5)).toBe(2);
  });

  it('Array.prototype cannot fill a hole in `policies`', () => {
    // biome-ignore lint/suspicious/noSparseArray: the hole is the attack
    const policies = [, { max: 2, window: '1m' }] as unknown as RateLimiterOptions['policies'];
    const build = () =>
      buildPolluted(Array.prototype, '0', { max: 1e6, window: '1s' }, { policies } as RateLimiterOptions);
    expect(build).toThrow(InvalidOptionError);
    expect(build).toThrow('policies[0]');
  });

  it('Object.prototype.failMode does not turn a limiter open', () => {
    const limiter = buildPolluted(Object.prototype, 'failMode', 'open', { max: 2, window: '1m' });
    expect(limiter.failMode).toBe('local');
  });

  it('Object.prototype.timeoutMs does not change the timeout', () => {
    const limiter = buildPolluted(Object.prototype, 'timeoutMs', 1, { max: 2, window: '1m' });
    expect(limiter.timeoutMs).toBe(500);
  });

  it('Object.prototype.name and .prefix do not move the keys', () => {
    const plain = new RateLimiter({ max: 2, window: '1m' });
    const named = buildPolluted(Object.prototype, 'name', 'other', { max: 2, window: '1m' });
    const prefixed = buildPolluted(Object.prototype, 'prefix', 'other', { max: 2, window: '1m' });
    expect(named.name).toBeUndefined();
    expect(named.keyFor('k')).toBe(plain.keyFor('k'));
    expect(prefixed.keyFor('k')).toBe(plain.keyFor('k'));
  });

  it('Object.prototype.store does not replace the store', async () => {
    let calls = 0;
    const rogue: Store = {
      consume: () => {
        calls += 1;
        return { allowed: true, tokens: [1e6] };
      },
      peek: () => ({ allowed: true, tokens: [1e6] }),
      reset() {},
    };
    const limiter = buildPolluted(Object.prototype, 'store', rogue, { max: 2, window: '1m' });
    expect(await admitted(limiter, 5)).toBe(2);
    expect(calls).toBe(0);
  });

  it('Object.prototype.circuit does not turn the breaker off', () => {
    const limiter = buildPolluted(Object.prototype, 'circuit', false, { max: 2, window: '1m' });
    expect(limiter.circuit).toBeDefined();
  });

  it.each([
    ['failures', 1e9],
    ['minOpenMs', 1],
    ['maxOpenMs', 1],
  ])('Object.prototype.%s does not reach the circuit settings', (name, value) => {
    const limiter = buildPolluted(Object.prototype, name, value, {
      max: 2,
      window: '1m',
      circuit: {},
    });
    expect(limiter.circuit?.config).toEqual({ failures: 5, minOpenMs: 1000, maxOpenMs: 30_000 });
  });

  it('the parsed configuration is read-only', () => {
    const limiter = new RateLimiter({ max: 2, window: '1m', name: 'n' });
    expect(Object.isFrozen(limiter.policies)).toBe(true);
    for (const field of ['timeoutMs', 'failMode', 'name', 'policies', 'store']) {
      expect(() => {
        (limiter as unknown as Record<string, unknown>)[field] = undefined;
      }, field).toThrow(TypeError);
    }
    expect(limiter.timeoutMs).toBe(500);
    expect(limiter.name).toBe('n');
  });

  it('a limiter with read-only fields still makes its local fallback store when the store fails', async () => {
    const failing: Store = {
      consume: () => Promise.reject(new Error('down')),
      peek: () => Promise.reject(new Error('down')),
      reset: () => Promise.reject(new Error('down')),
    };
    const logger = { info() {}, warn() {}, error() {} };
    const limiter = new RateLimiter({ max: 2, window: '1m', store: failing, logger });
    expect(await admitted(limiter, 5)).toBe(2);
    expect((await limiter.consume('client')).source).toBe('local');
  });
});
