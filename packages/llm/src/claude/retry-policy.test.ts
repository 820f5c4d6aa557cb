import Anthropic from '@anthropic-ai/sdk';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { backoffMs } from '../engine/backoff.js';
import { classifyFailure, headerValue, nextMonthStartUtc } from './retry-policy.js';

/** An error exactly as the official SDK builds it from a response. */
function sdkError(status: number, headers: Record<string, string> = {}, errorCode?: string): unknown {
  const body = {
    type: 'error',
    error: {
      type: status === 429 ? 'rate_limit_error' : status === 529 ? 'overloaded_error' : 'api_error',
      message: 'fake',
      ...(errorCode === undefined ? {} : { details: { error_code: errorCode } }),
    },
    request_id: 'req_body',
  };
  return Anthropic.APIError.generate(status, body, undefined, new Headers({ 'request-id': 'req_h', ...headers }));
}

afterEach(() => {
  vi.useRealTimers();
});

describe('classifyFailure: what to retry', () => {
  it.each([
    [429, undefined, 'rate', true],
    [429, 'ramp_limit_exceeded', 'ramp', true],
    [429, 'enforced_spend_limit_reached', 'spend-cap', false],
    [429, 'contract_spend_limit_reached', 'spend-cap', false],
    [429, 'some_future_code', 'rate', true],
    [529, undefined, 'overloaded', true],
    [500, undefined, 'server', true],
    [502, undefined, 'server', true],
    [503, undefined, 'server', true],
    [504, undefined, 'server', true],
    [408, undefined, 'timeout', true],
    [409, undefined, 'conflict', true],
    [400, undefined, 'client', false],
    [401, undefined, 'client', false],
    [403, undefined, 'client', false],
    [404, undefined, 'client', false],
    [413, undefined, 'client', false],
    [422, undefined, 'client', false],
  ] as const)('status %i code %s → %s, retry %s', (status, code, kind, retry) => {
    const failure = classifyFailure(sdkError(status, {}, code));
    expect(failure).toMatchObject({ kind, status, retry, errorCode: code, requestId: 'req_h' });
  });

  it('reads the error code from the body when the error is a plain object', () => {
    const failure = classifyFailure({
      status: 429,
      headers: { 'request-id': 'req_plain' },
      error: {
        type: 'error',
        error: { type: 'rate_limit_error', details: { error_code: 'contract_spend_limit_reached' } },
      },
    });
    expect(failure).toMatchObject({
      kind: 'spend-cap',
      retry: false,
      errorCode: 'contract_spend_limit_reached',
      requestId: 'req_plain',
    });
  });

  it('x-should-retry: true makes a 4xx retryable', () => {
    expect(classifyFailure(sdkError(400, { 'x-should-retry': 'true' })).retry).toBe(true);
    expect(classifyFailure(sdkError(404, { 'x-should-retry': 'true' })).retry).toBe(true);
  });

  it('x-should-retry: false stops a retry the status would allow', () => {
    for (const status of [429, 529, 500, 408, 409]) {
      expect(classifyFailure(sdkError(status, { 'x-should-retry': 'false' })).retry).toBe(false);
    }
  });

  it('a spend cap is never retried, whatever x-should-retry says', () => {
    const failure = classifyFailure(sdkError(429, { 'x-should-retry': 'true' }, 'enforced_spend_limit_reached'));
    expect(failure).toMatchObject({ kind: 'spend-cap', retry: false });
  });

  it('an x-should-retry other than true/false is ignored', () => {
    expect(classifyFailure(sdkError(400, { 'x-should-retry': 'yes' })).retry).toBe(false);
    expect(classifyFailure(sdkError(529, { 'x-should-retry': '1' })).retry).toBe(true);
  });

  it('a connection error is retried; a user abort is not', () => {
    const connection = classifyFailure(new Anthropic.APIConnectionError({ message: 'socket hang up' }));
    expect(connection).toMatchObject({ kind: 'connection', status: undefined, retry: true });
    expect(classifyFailure(new Anthropic.APIConnectionTimeoutError())).toMatchObject({ retry: true });
    expect(classifyFailure(new Anthropic.APIUserAbortError())).toMatchObject({ retry: false });
  });

  it('a socket error is a connection failure, retried, with no server hints', () => {
    const refused = new TypeError('fetch failed', {
      cause: Object.assign(new Error('connect'), { code: 'ECONNREFUSED' }),
    });
    expect(classifyFailure(refused)).toMatchObject({
      kind: 'connection',
      retry: true,
      retryAfterMs: undefined,
      errorCode: undefined,
      requestId: undefined,
    });
  });

  it("anything else without a status is the caller's bug: not retried", () => {
    expect(classifyFailure(new TypeError('cannot read properties of undefined'))).toMatchObject({
      kind: 'client',
      retry: false,
    });
    expect(classifyFailure(undefined)).toMatchObject({ kind: 'client', retry: false });
    expect(classifyFailure('boom')).toMatchObject({ kind: 'client', retry: false });
  });
});

describe('classifyFailure: how long the server asked to wait', () => {
  it('no header: undefined (the caller backs off)', () => {
    expect(classifyFailure(sdkError(429)).retryAfterMs).toBeUndefined();
  });

  it('retry-after in seconds, fractional too', () => {
    expect(classifyFailure(sdkError(429, { 'retry-after': '2' })).retryAfterMs).toBe(2000);
    expect(classifyFailure(sdkError(429, { 'retry-after': '0.5' })).retryAfterMs).toBe(500);
    expect(classifyFailure(sdkError(429, { 'retry-after': '0' })).retryAfterMs).toBe(0);
  });

  it('retry-after-ms wins over retry-after', () => {
    expect(classifyFailure(sdkError(429, { 'retry-after-ms': '250', 'retry-after': '3' })).retryAfterMs).toBe(250);
    expect(classifyFailure(sdkError(529, { 'retry-after-ms': '1' })).retryAfterMs).toBe(1);
  });

  it('an unreadable retry-after-ms falls back to retry-after', () => {
    expect(classifyFailure(sdkError(429, { 'retry-after-ms': 'soon', 'retry-after': '3' })).retryAfterMs).toBe(3000);
  });

  it('retry-after as an HTTP date: the time until then, never negative', () => {
    vi.useFakeTimers();
    vi.setSystemTime(Date.parse('2026-11-25T12:00:00Z'));
    const later = 'Wed, 25 Nov 2026 12:00:07 GMT';
    expect(classifyFailure(sdkError(429, { 'retry-after': later })).retryAfterMs).toBe(7000);
    const past = 'Wed, 25 Nov 2026 11:59:00 GMT';
    expect(classifyFailure(sdkError(429, { 'retry-after': past })).retryAfterMs).toBe(0);
  });

  it('an unreadable retry-after is ignored', () => {
    expect(classifyFailure(sdkError(429, { 'retry-after': 'whenever' })).retryAfterMs).toBeUndefined();
  });

  it('a spend-cap 429 carries no retry-after', () => {
    expect(classifyFailure(sdkError(429, {}, 'enforced_spend_limit_reached')).retryAfterMs).toBeUndefined();
  });
});

describe('headerValue', () => {
  it('reads Headers (case-insensitive) and plain records', () => {
    expect(headerValue(new Headers({ 'Retry-After': '3' }), 'retry-after')).toBe('3');
    expect(headerValue({ 'retry-after': '3' }, 'retry-after')).toBe('3');
    expect(headerValue({ 'retry-after': 3 }, 'retry-after')).toBeUndefined();
    expect(headerValue(new Headers(), 'retry-after')).toBeUndefined();
    expect(headerValue(undefined, 'retry-after')).toBeUndefined();
  });
});

describe('classifyFailure: a stream error event (no HTTP status)', () => {
  it.each([
    ['overloaded_error', 'overloaded', true],
    ['api_error', 'server', true],
    ['rate_limit_error', 'rate', true],
    ['invalid_request_error', 'client', false],
    ['__proto__', 'client', false],
  ])('%s → %s, retry %s', (type, kind, retry) => {
    // As the SDK throws it for `event: error` in an SSE stream.
    const error = new Anthropic.APIError(
      undefined,
      { type: 'error', error: { type, message: 'x' } },
      undefined,
      new Headers(),
    );
    expect(classifyFailure(error)).toMatchObject({ kind, retry, status: undefined });
  });
});

describe('backoffMs: exponential backoff as the SDK does it (jitter only downward, at most 25%)', () => {
  it('is min(cap, base × 2^attempt) × (1 − random × 0.25), rounded up', () => {
    const half = () => 0.5;
    expect(backoffMs(0, 500, 30_000, half)).toBe(438); // 500 × 0.875 = 437.5
    expect(backoffMs(1, 500, 30_000, half)).toBe(875);
    expect(backoffMs(3, 500, 30_000, half)).toBe(3_500);
    expect(backoffMs(6, 500, 30_000, half)).toBe(26_250); // 32000 capped at 30000
    expect(backoffMs(10, 500, 30_000, half)).toBe(26_250);
  });

  it('spans [¾ step, step]: the SDK’s own first retry waits at least 375 ms (full jitter went down to 0)', () => {
    const top = () => 1 - Number.EPSILON;
    for (let attempt = 0; attempt < 12; attempt++) {
      const step = Math.min(30_000, 500 * 2 ** attempt);
      expect(backoffMs(attempt, 500, 30_000, () => 0)).toBe(step);
      expect(backoffMs(attempt, 500, 30_000, top)).toBe(Math.ceil(step * 0.75));
    }
    expect(backoffMs(0, 500, 8_000, () => 0.999)).toBeGreaterThanOrEqual(375);
  });

  it('never exceeds the cap, even for huge attempt numbers', () => {
    expect(backoffMs(2_000, 500, 30_000, () => 0)).toBe(30_000);
    expect(backoffMs(2_000, 500, 30_000, () => 0.999)).toBe(22_508);
  });

  it('with the real random source stays within bounds', () => {
    for (let i = 0; i < 500; i++) {
      const attempt = i % 8;
      const step = Math.min(5_000, 100 * 2 ** attempt);
      const wait = backoffMs(attempt, 100, 5_000);
      expect(Number.isInteger(wait)).toBe(true);
      expect(wait).toBeGreaterThanOrEqual(step * 0.75);
      expect(wait).toBeLessThanOrEqual(step);
    }
  });
});

describe('nextMonthStartUtc: when a spend cap lifts', () => {
  it.each([
    ['2026-11-25T12:34:56.789Z', '2026-12-01T00:00:00.000Z'],
    ['2026-12-15T08:00:00.000Z', '2027-01-01T00:00:00.000Z'],
    ['2026-12-31T23:59:59.999Z', '2027-01-01T00:00:00.000Z'],
    ['2027-01-31T23:00:00.000Z', '2027-02-01T00:00:00.000Z'],
    ['2028-02-29T10:00:00.000Z', '2028-03-01T00:00:00.000Z'],
    // Exactly at the turn of a month, the cap lifts at the next one.
    ['2026-03-01T00:00:00.000Z', '2026-04-01T00:00:00.000Z'],
  ])('%s → %s', (now, expected) => {
    expect(new Date(nextMonthStartUtc(Date.parse(now))).toISOString()).toBe(expected);
  });
});
