import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

/**
 * Importing a limiter must stay cheap: the OpenTelemetry SDK loads only when setupTelemetry()
 * (from @tollgate/otel) is called, ioredis only when a RedisStore is given a URL, and prom-client's default metrics
 * only when collectDefaultMetrics() is called. Checked on the built packages, in fresh processes.
 */

const root = fileURLToPath(new URL('../..', import.meta.url));
const HEAVY = [
  // Core spells out the dozen attribute names it sets rather than load this (several MB) at import.
  '@opentelemetry/semantic-conventions',
  '@opentelemetry/sdk-trace-node',
  '@opentelemetry/sdk-trace-base',
  '@opentelemetry/exporter-trace-otlp-proto',
  'ioredis',
];

/** Prints what a process holds after running `body`: heavy packages loaded, default metrics registered. */
const probe = (body: string) => `
  ${body}
  const { createRequire } = await import('node:module');
  const loaded = Object.keys(createRequire(process.cwd() + '/').cache);
  const heavy = ${JSON.stringify(HEAVY)}.filter((name) => loaded.some((p) => p.includes('/node_modules/' + name + '/')));
  const core = await import('@tollgate/core');
  const promClient = await import('prom-client');
  const defaults = [...core.register.getMetricsAsArray(), ...promClient.register.getMetricsAsArray()]
    .map((m) => m.name)
    .filter((n) => /^(process|nodejs)_/.test(n));
  console.log(JSON.stringify({ heavy, defaults: defaults.length }));
`;

function run(type: 'module' | 'commonjs', body: string): { heavy: string[]; defaults: number } {
  const script = type === 'module' ? probe(body) : `(async () => { ${probe(body)} })()`;
  const args = type === 'module' ? ['--input-type=module', '-e', script] : ['-e', script];
  const out = execFileSync(process.execPath, args, { cwd: root, encoding: 'utf8' }).trim();
  return JSON.parse(out.split('\n').at(-1) as string);
}

describe('importing the limiter loads no OpenTelemetry SDK, no ioredis, no default metrics', () => {
  for (const pkg of ['@tollgate/core', '@tollgate/express', '@tollgate/koa', '@tollgate/fastify']) {
    it(`${pkg} with import, and using a limiter`, () => {
      const body = `
        const m = await import('${pkg}');
        const limiter = new m.RateLimiter({ max: 1, window: '1m' });
        await limiter.consume('k');`;
      expect(run('module', body)).toEqual({ heavy: [], defaults: 0 });
    });

    it(`${pkg} with require()`, () => {
      expect(run('commonjs', `require('${pkg}');`)).toEqual({ heavy: [], defaults: 0 });
    });

    it(`${pkg} with require() loads neither optional peer (prom-client, @opentelemetry/api)`, () => {
      const script = `require('${pkg}');
        const loaded = Object.keys(require.cache);
        console.log(JSON.stringify(['prom-client', '@opentelemetry/api'].filter((n) => loaded.some((p) => p.includes('/node_modules/' + n + '/')))));`;
      const out = execFileSync(process.execPath, ['-e', script], { cwd: root, encoding: 'utf8' }).trim();
      expect(JSON.parse(out.split('\n').at(-1) as string)).toEqual([]);
    });
  }

  it('telemetry() and metricsHandler() alone do not load the SDK either', () => {
    const body = `
      const m = await import('@tollgate/express');
      m.telemetry();
      m.metricsHandler();
      m.rateLimit({ max: 1, window: '1m' });`;
    expect(run('module', body).heavy).toEqual([]);
  });

  it('setupTelemetry() loads the SDK when called, from ESM and from CommonJS', () => {
    const esm = run('module', `(await import('@tollgate/otel')).setupTelemetry({ serviceName: 't' });`);
    expect(esm.heavy).toEqual(
      expect.arrayContaining(['@opentelemetry/sdk-trace-node', '@opentelemetry/exporter-trace-otlp-proto']),
    );
    const cjs = run('commonjs', `require('@tollgate/otel').setupTelemetry({ serviceName: 't' });`);
    expect(cjs.heavy).toEqual(expect.arrayContaining(['@opentelemetry/sdk-trace-node']));
  });

  it('collectDefaultMetrics() is what adds the default metrics', () => {
    expect(run('module', `(await import('@tollgate/core')).collectDefaultMetrics();`).defaults).toBeGreaterThan(0);
  });
});
