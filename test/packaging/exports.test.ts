import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('../..', import.meta.url));

/** Runs a snippet in a fresh Node process against the built packages, as a user's app would. */
function run(args: string[]): string {
  return execFileSync(process.execPath, args, { cwd: root, encoding: 'utf8' }).trim();
}

/**
 * The runtime names of each entry point of @tollgate/core, by audience (docs/README.md, "Entry
 * points"). Once published, each name is a semver promise: a name added here is a decision, and
 * a name that leaks in (an internal re-exported by accident) fails this test.
 */
const ENTRIES: Record<string, readonly string[]> = {
  // What an application uses: the limiter, stores, errors, durations, logging, telemetry helpers.
  '@tollgate/core': [
    'ErrorCodes',
    'InvalidOptionError',
    'MemoryStore',
    'RateLimitExceededError',
    'RateLimiter',
    'RedisQuotaSource',
    'RedisStore',
    'StoreUnavailableError',
    'TollgateError',
    'collectDefaultMetrics',
    'consoleLogger',
    'parseDuration',
    'recordMetric',
    'register',
    'traceOperation',
    'traceSpan',
  ],
  // What a framework adapter is built from: the neutral HTTP layer, client keys, headers, the
  // problem body, server telemetry and scraping; and what tollgate's other packages share with core.
  '@tollgate/core/adapter': [
    'BoundedValues',
    'CircuitBreaker',
    'HttpRateLimiter',
    'HttpServerTelemetry',
    'NO_CALL',
    'OPENMETRICS_CONTENT_TYPE',
    'OVERFLOW_LABEL',
    'PROBLEM_CONTENT_TYPE',
    'PROMETHEUS_CONTENT_TYPE',
    'QUOTA_EXCEEDED_TYPE',
    'RATE_LIMIT_EVENT',
    'RateLimitAttributes',
    'UNMATCHED_ROUTE',
    'annotateRateLimit',
    'assertKnownOptions',
    'assertOptionsObject',
    'bearerToken',
    'fetchRequestInfo',
    'firstHeader',
    'forwardedClient',
    'initCircuitMetrics',
    'ipKey',
    'isClientTimeout',
    'isLogger',
    'lazyFamily',
    'parseCircuitOptions',
    'parseTrustProxy',
    'positiveInteger',
    'prefersOpenMetrics',
    'rateLimitHeaders',
    'recordCircuitTransition',
    'refusalResponse',
    'retryAfterSeconds',
    'runScript',
    'runtimeClientAddress',
    'scrapeMetrics',
    'storeKey',
    'timerMs',
    'tokenCount',
    'tokenKey',
    'validateMetricsHandlerOptions',
    'withHeaders',
    'withTimeout',
  ],
  // What tollgate writes to a store, for the CLI and other tools that read one.
  '@tollgate/core/stored-format': [
    'bucketStanding',
    'decodeBuckets',
    'encodeBuckets',
    'legacyHashIds',
    'parsePolicyId',
    'policyId',
    'scriptSha',
    'sha256Digest',
  ],
};

describe('the built packages load from ESM and CommonJS', () => {
  for (const pkg of ['@tollgate/core', '@tollgate/express', '@tollgate/koa', '@tollgate/fastify']) {
    it(`${pkg} with require()`, () => {
      const out = run(['-e', `const m = require('${pkg}'); console.log(typeof m.RateLimiter, typeof m.MemoryStore)`]);
      expect(out).toBe('function function');
    });

    it(`${pkg} with import`, () => {
      const out = run([
        '--input-type=module',
        '-e',
        `const m = await import('${pkg}'); console.log(typeof m.RateLimiter, typeof m.MemoryStore)`,
      ]);
      expect(out).toBe('function function');
    });
  }

  it('a CommonJS Express app gets a 429 from the built adapter', () => {
    const script = `
      const express = require('express');
      const { rateLimit } = require('@tollgate/express');
      const app = express();
      app.use(rateLimit({ max: 1, window: '1m' }));
      app.get('/', (req, res) => res.send('ok'));
      const server = app.listen(0, '127.0.0.1', async () => {
        const url = 'http://127.0.0.1:' + server.address().port + '/';
        const a = await fetch(url); const b = await fetch(url);
        console.log(a.status, b.status, b.headers.get('retry-after') !== null);
        server.close();
      });`;
    expect(run(['-e', script])).toBe('200 429 true');
  });
});

describe('each entry point of @tollgate/core exports its audience’s names and nothing else', () => {
  for (const [entry, names] of Object.entries(ENTRIES)) {
    it(`${entry} with require()`, () => {
      const out = run(['-e', `console.log(JSON.stringify(Object.keys(require('${entry}')).sort()))`]);
      expect(JSON.parse(out)).toEqual([...names].sort());
    });

    it(`${entry} with import`, () => {
      const out = run([
        '--input-type=module',
        '-e',
        `console.log(JSON.stringify(Object.keys(await import('${entry}')).filter((k) => k !== 'default').sort()))`,
      ]);
      expect(JSON.parse(out)).toEqual([...names].sort());
    });
  }

  // The entries share one copy of core's modules: otherwise an error thrown by adapter code would
  // not be an instance of the main entry's TollgateError, and each entry would hold its own
  // metrics registry and limiter names.
  for (const style of ['require', 'import'] as const) {
    it(`an error from the adapter entry is the main entry's TollgateError (${style})`, () => {
      const load = (entry: string) => (style === 'require' ? `require('${entry}')` : `await import('${entry}')`);
      const script = `
        const { TollgateError } = ${load('@tollgate/core')};
        const { validateMetricsHandlerOptions } = ${load('@tollgate/core/adapter')};
        try { validateMetricsHandlerOptions({ nope: 1 }); console.log('no error'); }
        catch (e) { console.log(e.code, e instanceof TollgateError); }`;
      const args = style === 'require' ? ['-e', script] : ['--input-type=module', '-e', script];
      expect(run(args)).toBe('TOLLGATE_UNKNOWN_OPTION true');
    });
  }
});
