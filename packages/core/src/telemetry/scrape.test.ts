import { describe, expect, it } from 'vitest';
import { startInMemoryTracing } from '../../../../test/helpers/in-memory-tracing.js';
import { injectedPromtool, runPromtool } from '../../../../test/helpers/promtool.js';
import { startRequest } from '../../../../test/helpers/start-request.js';
import { RateLimiter } from '../limiter/rate-limiter.js';
import { HttpServerTelemetry } from './http-server-telemetry.js';
import { observeStoreLatency, recordDecision } from './rate-limit-metrics.js';
import { recordMetric } from './record-metric.js';
import { collectDefaultMetrics, register } from './registry.js';
import { OPENMETRICS_CONTENT_TYPE, PROMETHEUS_CONTENT_TYPE, prefersOpenMetrics, scrapeMetrics } from './scrape.js';

/** promtool, as test/global-setup.ts found it: missing locally, its checks are skipped (one loud line). */
const { available: hasPromtool } = injectedPromtool();

/** `promtool check metrics` on a scrape body. */
function promtool(body: string): { status: number | null; output: string } {
  return runPromtool(['check', 'metrics'], { input: body });
}

describe('prefersOpenMetrics', () => {
  it.each([
    [
      'application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1',
      true,
    ],
    [
      'application/openmetrics-text;version=1.0.0;escaping=allow-utf-8;q=0.5,application/openmetrics-text;version=0.0.1;q=0.4,text/plain;version=1.0.0;escaping=allow-utf-8;q=0.3,text/plain;version=0.0.4;q=0.2,*/*;q=0.1',
      true,
    ],
    ['application/openmetrics-text', true],
    ['Application/OpenMetrics-Text; version=1.0.0', true],
    ['text/plain;version=0.0.4', false],
    ['text/plain, application/openmetrics-text;q=0.5', false],
    ['application/openmetrics-text;q=0', false],
    ['*/*', false],
    ['', false],
    [undefined, false],
  ])('%s -> %s', (accept, expected) => {
    expect(prefersOpenMetrics(accept)).toBe(expected);
  });
});

describe('scrapeMetrics', () => {
  it('serves nothing before anything that is measured exists: importing registers no family', async () => {
    const { body } = await scrapeMetrics();
    expect(body.trim()).toBe('');
  });

  it.skipIf(!hasPromtool)('passes promtool check metrics before anything is observed', async () => {
    new HttpServerTelemetry();
    new RateLimiter({ max: 1, window: '1m', name: 'unused' });
    const { contentType, body } = await scrapeMetrics();
    expect(contentType).toBe(PROMETHEUS_CONTENT_TYPE);
    expect(body).toContain('# TYPE http_server_request_duration_seconds histogram');
    expect(body).toContain('# TYPE tollgate_ratelimit_decisions_total counter');
    expect(promtool(body)).toEqual({ status: 0, output: '' });
  });

  it.skipIf(!hasPromtool)(
    'passes promtool check metrics with every tollgate metric populated and default metrics on',
    async () => {
      const tracing = startInMemoryTracing();
      try {
        collectDefaultMetrics();
        collectDefaultMetrics(); // a second call is a no-op, not a duplicate registration
        const telemetry = new HttpServerTelemetry();
        for (const [method, route, status, error] of [
          ['GET', '/users/:id', 200, undefined],
          ['POST', '/orders', 503, undefined],
          ['PUT', '/orders/:id', 500, new TypeError('boom')],
          ['BREW', undefined, 404, undefined],
        ] as const) {
          const request = startRequest(telemetry, { method, scheme: 'http', path: '/x', header: () => undefined });
          request.setRoute(route);
          request.end(status, error);
        }
        recordMetric('db.query.duration', 42, { unit: 'ms', attributes: { 'db.operation': 'select' } });
        recordMetric('cache.miss', 1, { attributes: { cache: 'users' } });
        recordDecision('api', 'allowed');
        recordDecision('api', 'limited');
        observeStoreLatency('api', 0.002);

        const { body } = await scrapeMetrics('text/plain;version=0.0.4');
        expect(body).toContain('process_cpu_seconds_total');
        expect(body).toContain('nodejs_eventloop_lag_seconds');
        expect(body).not.toContain('nodejs_active_handles_total');
        expect(body).toContain('error_type="TypeError"');
        expect(body).toContain('http_request_method="_OTHER",http_route="_UNMATCHED"');
        expect(promtool(body)).toEqual({ status: 0, output: '' });
      } finally {
        await tracing.shutdown();
      }
    },
  );

  it.skipIf(!hasPromtool)('the promtool check does find problems', () => {
    const bad = '# HELP requests Requests.\n# TYPE requests counter\nrequests 1\n';
    const result = promtool(bad);
    expect(result.status).not.toBe(0);
    expect(result.output).toContain('counter metrics should have "_total" suffix');
  });

  it('renders OpenMetrics from the same metrics when asked, leaving the Prometheus names intact', async () => {
    recordDecision('om-test', 'allowed');
    const open = await scrapeMetrics('application/openmetrics-text;version=1.0.0');
    expect(open.contentType).toBe(OPENMETRICS_CONTENT_TYPE);
    expect(open.body.endsWith('# EOF\n')).toBe(true);
    expect(open.body).toContain('# TYPE tollgate_ratelimit_decisions counter');
    expect(open.body).toContain(
      'tollgate_ratelimit_decisions_total{limiter="om-test",outcome="allowed",source="store"} 1',
    );
    expect(open.body).not.toContain('_total_total');

    // prom-client's OpenMetrics renderer renames counters in place; the views keep that from leaking.
    const text = await scrapeMetrics();
    expect(text.body).toContain('# TYPE tollgate_ratelimit_decisions_total counter');
    expect(text.body).toContain(
      'tollgate_ratelimit_decisions_total{limiter="om-test",outcome="allowed",source="store"} 1',
    );
    expect(register.getSingleMetric('tollgate_ratelimit_decisions_total')).toBeDefined();
  });

  it.skipIf(!hasPromtool)('passes promtool check metrics after an OpenMetrics scrape', async () => {
    recordDecision('om-lint', 'allowed');
    await scrapeMetrics('application/openmetrics-text;version=1.0.0');
    expect(promtool((await scrapeMetrics()).body)).toEqual({ status: 0, output: '' });
  });
});
