import { HttpRateLimiter } from '@tollgate/core/adapter';
import { afterEach, describe, expect, it } from 'vitest';
import { adapters, type Served } from './adapters.js';

/**
 * Issue 13, item 2: options were read through the prototype, so an app with a prototype-
 * pollution bug elsewhere had its limits switched off: with `Object.prototype.skip = () => true`,
 * `cost = 0` or `burst = 1e6`, `rateLimit({ max: 2 })` let 5 of 5 requests through. Only own
 * properties of the options count.
 */
const pollutions: Array<[string, unknown]> = [
  ['skip', () => true],
  ['cost', 0],
  ['burst', 1e6],
  ['max', 1e6],
  ['key', () => `fresh-${Math.random()}`],
  // The Fastify plugin's own option: polluted, it would turn the app-wide limit off.
  ['global', false],
  // A Fastify route's config: inherited, it would exempt every route from the app-wide limit.
  ['rateLimit', false],
];

const opened: Served[] = [];
const planted: string[] = [];
afterEach(async () => {
  for (const name of planted.splice(0)) delete (Object.prototype as Record<string, unknown>)[name];
  await Promise.all(opened.splice(0).map((app) => app.close()));
});

describe.each(adapters)('$name: a polluted Object.prototype does not loosen rateLimit({ max: 2 })', (adapter) => {
  it.each(pollutions)('Object.prototype.%s', async (name, value) => {
    // Planted while the limiter is built and while it decides; removed after each test.
    planted.push(name);
    Object.defineProperty(Object.prototype, name, { value, configurable: true, writable: true, enumerable: false });
    const app = await adapter.serve({ limit: { max: 2, window: '1m' } });
    opened.push(app);
    const statuses: number[] = [];
    for (let i = 0; i < 5; i++) {
      const res = await fetch(app.url, { signal: AbortSignal.timeout(10_000) });
      await res.arrayBuffer();
      statuses.push(res.status);
    }
    expect(statuses).toEqual([200, 200, 429, 429, 429]);
    expect(app.hits()).toBe(2);
  });
});

describe('the parsed configuration', () => {
  it('is frozen: a built HttpRateLimiter cannot have its key, cost or skip swapped', () => {
    const http = new HttpRateLimiter({ max: 2, window: '1m' }, { ip: () => '127.0.0.1', header: () => undefined });
    expect(Object.isFrozen(http)).toBe(true);
    expect(() => Object.assign(http, { skip: () => true })).toThrow(TypeError);
  });
});
