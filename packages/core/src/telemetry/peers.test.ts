import { afterEach, describe, expect, it } from 'vitest';
import { ErrorCodes } from '../errors.js';
import { RateLimiter } from '../limiter/rate-limiter.js';
import { HttpServerTelemetry } from './http-server-telemetry.js';
import { simulateMissingPeer } from './peers.js';
import { recordMetric } from './record-metric.js';
import { collectDefaultMetrics, register } from './registry.js';
import { validateMetricsHandlerOptions } from './scrape.js';

/**
 * Issue 14, item 1: prom-client is an optional peer, found when metrics are first used. Missing,
 * each metrics feature throws a coded error naming it, when the app is built; a rate limiter
 * works and records nothing. The lookup is told the package is missing before anything in this
 * file makes tollgate's registry (a package found once is kept). Not through the package's main
 * entry: importing it loads modules that other work is making lazy too.
 */
afterEach(() => simulateMissingPeer('prom-client', false));

const missing = expect.objectContaining({
  code: ErrorCodes.PEER_DEPENDENCY_MISSING,
  message: expect.stringContaining('npm install prom-client@15'),
});

describe('without prom-client', () => {
  it('a rate limiter works and records nothing', async () => {
    simulateMissingPeer('prom-client', true);
    const limiter = new RateLimiter({ max: 1, window: '1m', name: 'no-metrics' });
    expect((await limiter.consume('k')).allowed).toBe(true);
    expect((await limiter.consume('k')).allowed).toBe(false);
  });

  it('metricsHandler() (its options check), telemetry(), recordMetric(), register and collectDefaultMetrics() throw naming it', () => {
    simulateMissingPeer('prom-client', true);
    expect(() => validateMetricsHandlerOptions(undefined)).toThrow(missing);
    expect(() => new HttpServerTelemetry()).toThrow(missing);
    expect(() => recordMetric('jobs', 1)).toThrow(missing);
    expect(() => register.getMetricsAsArray()).toThrow(missing);
    expect(() => collectDefaultMetrics()).toThrow(missing);
  });
});
