import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { type InMemoryTracing, startInMemoryTracing } from '../../../../test/helpers/in-memory-tracing.js';
import { startRequest } from '../../../../test/helpers/start-request.js';
import { RateLimiter } from '../limiter/rate-limiter.js';
import { HttpServerTelemetry } from './http-server-telemetry.js';
import { annotateRateLimit, RATE_LIMIT_EVENT } from './rate-limit-span.js';
import { traceSpan } from './trace.js';

describe('annotateRateLimit', () => {
  let tracing: InMemoryTracing;
  beforeEach(() => {
    tracing = startInMemoryTracing();
  });
  afterEach(async () => {
    await tracing.shutdown();
  });

  it('describes an allowed decision on the active span, without the client key', async () => {
    const limiter = new RateLimiter({ max: 10, window: '1m', name: 'api' });
    const decision = await limiter.consume('tok:secret-client-key');
    traceSpan('request', {}, () => annotateRateLimit(decision, 'api'));
    const span = tracing.span('request');
    expect(span.attributes).toEqual({
      'tollgate.ratelimit.limiter': 'api',
      'tollgate.ratelimit.policy': ['10-per-1m'],
      'tollgate.ratelimit.limit': 10,
      'tollgate.ratelimit.remaining': 9,
      'tollgate.ratelimit.limited': false,
      'tollgate.ratelimit.outcome': 'allowed',
      'tollgate.ratelimit.source': 'store',
    });
    expect(JSON.stringify(span.attributes)).not.toContain('secret-client-key');
    expect(span.events.map((e) => e.name)).toEqual([RATE_LIMIT_EVENT]);
  });

  it('marks a refused decision as limited, with the wait and every policy', async () => {
    const limiter = new RateLimiter({
      policies: [
        { max: 1, window: '1s' },
        { max: 100, window: '1h' },
      ],
    });
    await limiter.consume('k');
    const refused = await limiter.consume('k');
    traceSpan('request', {}, () => annotateRateLimit(refused));
    const attributes = tracing.span('request').attributes;
    expect(attributes['tollgate.ratelimit.policy']).toEqual(['1-per-1s', '100-per-1h']);
    expect(attributes['tollgate.ratelimit.limited']).toBe(true);
    expect(attributes['tollgate.ratelimit.outcome']).toBe('limited');
    expect(attributes['tollgate.ratelimit.retry_after_ms']).toBeGreaterThan(0);
    expect(attributes['tollgate.ratelimit.limiter']).toBeUndefined();
  });

  it("describes a shadow limiter's would-be refusal as enforcement would, with outcome shadow_limited and mode shadow", async () => {
    const limiter = new RateLimiter({ max: 1, window: '1s', name: 'shadow-span' });
    const allowed = await limiter.consume('k');
    const refused = await limiter.consume('k');
    traceSpan('allowed', {}, () => annotateRateLimit(allowed, 'shadow-span', undefined, 'shadow'));
    traceSpan('refused', {}, () => annotateRateLimit(refused, 'shadow-span', undefined, 'shadow'));
    expect(tracing.span('allowed').attributes).toMatchObject({
      'tollgate.ratelimit.outcome': 'allowed',
      'tollgate.ratelimit.mode': 'shadow',
    });
    expect(tracing.span('refused').attributes).toMatchObject({
      'tollgate.ratelimit.limited': true,
      'tollgate.ratelimit.outcome': 'shadow_limited',
      'tollgate.ratelimit.mode': 'shadow',
      'tollgate.ratelimit.retry_after_ms': 1000,
    });
  });

  it('tells a refusal during an outage from an admission: outcome and source apart', async () => {
    const broken = {
      consume() {
        throw new Error('connection refused');
      },
      peek() {
        throw new Error('connection refused');
      },
      reset() {},
    };
    const silent = { info() {}, warn() {}, error() {} };
    const limiter = new RateLimiter({ max: 1, window: '1m', store: broken, failMode: 'local', logger: silent });
    const admitted = await limiter.consume('k');
    const refused = await limiter.consume('k');
    traceSpan('admitted', {}, () => annotateRateLimit(admitted));
    traceSpan('refused', {}, () => annotateRateLimit(refused));
    expect(tracing.span('admitted').attributes).toMatchObject({
      'tollgate.ratelimit.outcome': 'allowed',
      'tollgate.ratelimit.source': 'local',
    });
    expect(tracing.span('refused').attributes).toMatchObject({
      'tollgate.ratelimit.outcome': 'limited',
      'tollgate.ratelimit.source': 'local',
    });
  });

  it('annotates the request server span when called inside telemetry, one event per limiter', async () => {
    const first = await new RateLimiter({ max: 5, window: '1m', name: 'global' }).consume('ip');
    const second = await new RateLimiter({ max: 2, window: '1m', name: 'login' }).consume('ip');
    const request = startRequest(new HttpServerTelemetry(), {
      method: 'POST',
      scheme: 'https',
      path: '/login',
      header: () => undefined,
    });
    request.run(() => {
      annotateRateLimit(first, 'global');
      annotateRateLimit(second, 'login');
    });
    request.setRoute('/login');
    request.end(200);
    const span = tracing.span('POST /login');
    expect(span.attributes['tollgate.ratelimit.limiter']).toBe('login');
    expect(span.events.map((e) => e.attributes?.['tollgate.ratelimit.limiter'])).toEqual(['global', 'login']);
  });

  it('does nothing, and does not throw, without an active span', async () => {
    const decision = await new RateLimiter({ max: 1, window: '1m' }).consume('k');
    expect(() => annotateRateLimit(decision, 'x')).not.toThrow();
    expect(tracing.spans()).toHaveLength(0);
  });
});
