import { describe, expect, it } from 'vitest';
import { HttpRateLimiter, type HttpRateLimitOptions } from './http-limiter.js';

const done: string[] = [];
const reader = {
  ip: () => '10.0.0.1',
  header: () => undefined,
  whenDone: (_req: object, _done: (status: number | undefined) => void) => {
    done.push('asked');
  },
};

describe('HttpRateLimiter.watchesResponses', () => {
  const cases: [Partial<HttpRateLimitOptions<object, unknown>>, boolean][] = [
    [{}, false],
    [{ skipSuccessfulRequests: true }, true],
    [{ skipFailedRequests: true }, true],
    [{ slowDown: { maxDelay: '1s' } }, true],
  ];
  it.each(cases)('with %j it is %s, and whenDone is called exactly when it is true', async (extra, watches) => {
    done.length = 0;
    const http = new HttpRateLimiter({ max: 5, window: '1m', ...extra }, reader);
    expect(http.watchesResponses).toBe(watches);
    await http.handle({});
    // Adapters skip their per-request bookkeeping for whenDone when this is false: it must hold.
    expect(done).toEqual(watches ? ['asked'] : []);
  });
});
