import { ErrorCodes, RateLimiter, traceSpan } from '@tollgate/core';
import { telemetry as expressTelemetry, rateLimit } from '@tollgate/express';
import { telemetry as fastifyTelemetry } from '@tollgate/fastify';
import { telemetry as koaTelemetry } from '@tollgate/koa';
import Fastify from 'fastify';
import { afterEach, describe, expect, it } from 'vitest';
import { simulateMissingPeer } from '../../packages/core/src/telemetry/peers.js';

/**
 * Issue 14, item 1: `@opentelemetry/api` and `prom-client` are optional peers, found when
 * telemetry or metrics are first used. Missing, the feature that needs one throws a coded error
 * naming the package to install, when the app is built; a rate limiter works without it.
 * (In-process, with the lookup told the package is missing; the packed-tarball run installs
 * without it for real. prom-client's side: packages/core/src/telemetry/peers.test.ts.)
 */
afterEach(() => {
  simulateMissingPeer('@opentelemetry/api', false);
});

const missing = (pkg: string) =>
  expect.objectContaining({
    code: ErrorCodes.PEER_DEPENDENCY_MISSING,
    message: expect.stringContaining(`npm install ${pkg}`),
  });

describe('without @opentelemetry/api', () => {
  it('telemetry() throws TOLLGATE_PEER_DEPENDENCY_MISSING naming it, in every adapter, as the app is built', async () => {
    simulateMissingPeer('@opentelemetry/api', true);
    expect(() => expressTelemetry()).toThrow(missing('@opentelemetry/api'));
    expect(() => koaTelemetry()).toThrow(missing('@opentelemetry/api'));
    const app = Fastify();
    await expect(app.register(fastifyTelemetry)).rejects.toThrow(missing('@opentelemetry/api'));
    await app.close();
  });

  it('traceSpan() throws naming it', () => {
    simulateMissingPeer('@opentelemetry/api', true);
    expect(() => traceSpan('work', undefined, () => 1)).toThrow(missing('@opentelemetry/api'));
  });

  it('a rate limiter works: there is no span to annotate', async () => {
    simulateMissingPeer('@opentelemetry/api', true);
    const limiter = new RateLimiter({ max: 1, window: '1m' });
    expect((await limiter.consume('k')).allowed).toBe(true);
    expect((await limiter.consume('k')).allowed).toBe(false);
    expect(typeof rateLimit({ max: 1, window: '1m' })).toBe('function');
  });
});
