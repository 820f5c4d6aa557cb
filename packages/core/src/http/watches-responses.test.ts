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
  const cases: [string, HttpRateLimitOptions<object, unknown>, boolean][] = [
    ['no refunds, no slowDown', { max: 5, window: '1m' }, false],
    ['skipSuccessfulRequests', { max: 5, window: '1m', skipSuccessfulRequests: true }, true],
    ['skipFailedRequests', { max: 5, window: '1m', skipFailedRequests: true }, true],
    ['slowDown', { max: 5, window: '1m', slowDown: { maxDelay: '1s' } }, true],
  ];
  it.each(cases)('%s: whenDone is called exactly when watchesResponses is true', async (_what, options, watches) => {
    done.length = 0;
    const http = new HttpRateLimiter(options, reader);
    expect(http.watchesResponses).toBe(watches);
    await http.handle({});
    // Adapters skip their per-request bookkeeping for whenDone when this is false: it must hold.
    expect(done).toEqual(watches ? ['asked'] : []);
  });
});
