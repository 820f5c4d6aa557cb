import { afterEach, describe, expect, it, vi } from 'vitest';
import { type InMemoryTracing, startInMemoryTracing } from '../../../../test/helpers/in-memory-tracing.js';
import { ErrorCodes } from '../errors.js';
import { consoleLogger } from '../log.js';
import { httpServerDuration } from './http-metrics.js';
import { prometheusName } from './metric-name.js';
import { MAX_SERIES_PER_METRIC, recordMetric } from './record-metric.js';
import { register, tollgateRegistry } from './registry.js';
import { scrapeMetrics } from './scrape.js';
import { traceSpan } from './trace.js';

async function text(name: string): Promise<string> {
  return register.getSingleMetricAsString(name);
}

describe('prometheusName', () => {
  it.each([
    ['db.query.duration', 'db_query_duration'],
    ['http.server.active-requests', 'http_server_active_requests'],
    ['a..b__c', 'a_b_c'],
    ['__reserved', 'reserved'],
    ['9lives', '_9lives'],
    ['ns:metric', 'ns_metric'],
    ['über.count', 'ber_count'],
    ['...', ''],
  ])('%s -> %s', (raw, expected) => {
    expect(prometheusName(raw)).toBe(expected);
  });
});

describe('recordMetric', () => {
  it('adds counts to a counter named <name>_total', async () => {
    recordMetric('cache.miss', 1, { attributes: { cache: 'users' } });
    recordMetric('cache.miss', 2, { attributes: { cache: 'users' } });
    recordMetric('cache.miss', 1, { attributes: { cache: 'orders' } });
    const out = await text('cache_miss_total');
    expect(out).toContain('# TYPE cache_miss_total counter');
    expect(out).toContain('cache_miss_total{cache="users"} 3');
    expect(out).toContain('cache_miss_total{cache="orders"} 1');
  });

  it('does not double a _total the caller already wrote', async () => {
    recordMetric('jobs_done_total', 1);
    expect(register.getSingleMetric('jobs_done_total')).toBeDefined();
    expect(register.getSingleMetric('jobs_done_total_total')).toBeUndefined();
  });

  it('observes milliseconds as seconds in a <name>_seconds histogram', async () => {
    recordMetric('db.query.duration', 250, { unit: 'ms', attributes: { 'db.operation': 'select' } });
    const out = await text('db_query_duration_seconds');
    expect(out).toContain('# TYPE db_query_duration_seconds histogram');
    expect(out).toContain('db_query_duration_seconds_sum{db_operation="select"} 0.25');
    expect(out).toContain('db_query_duration_seconds_bucket{le="0.25",db_operation="select"} 1');
    expect(out).toContain('db_query_duration_seconds_bucket{le="0.1",db_operation="select"} 0');
  });

  it('takes seconds as they are, and drops a unit suffix the caller wrote', async () => {
    recordMetric('render_time_s', 1.5, { unit: 's' });
    recordMetric('upload_latency_ms', 2000, { unit: 'ms' });
    expect(await text('render_time_seconds')).toContain('render_time_seconds_sum 1.5');
    expect(await text('upload_latency_seconds')).toContain('upload_latency_seconds_sum 2');
  });

  it('creates the metric once and reuses it: one family however often and however spelled', async () => {
    // The registry itself: `register` forwards to it, made on first use.
    const registerSpy = vi.spyOn(tollgateRegistry(), 'registerMetric');
    for (let i = 0; i < 100; i++) recordMetric('queue.depth.samples', 1);
    recordMetric('queue_depth_samples', 1);
    expect(registerSpy).toHaveBeenCalledTimes(1);
    registerSpy.mockRestore();
    expect(await text('queue_depth_samples_total')).toContain('queue_depth_samples_total 101');
  });

  it('fixes the label keys with the first call and rejects other keys with a coded error', () => {
    recordMetric('orders.placed', 1, { attributes: { region: 'eu', tier: 'pro' } });
    recordMetric('orders.placed', 1, { attributes: { tier: 'free', region: 'us' } });
    for (const attributes of [
      { region: 'eu' },
      { region: 'eu', tier: 'pro', plan: 'x' },
      { region: 'eu', kind: 'x' },
      undefined,
    ]) {
      let thrown: unknown;
      try {
        recordMetric('orders.placed', 1, attributes === undefined ? {} : { attributes });
      } catch (error) {
        thrown = error;
      }
      expect(thrown).toMatchObject({ code: ErrorCodes.METRIC_LABELS_MISMATCH });
      expect((thrown as Error).message).toContain('orders_placed_total');
      expect((thrown as Error).message).toContain('{region, tier}');
    }
  });

  it('accepts another spelling of the same label key', async () => {
    recordMetric('http.client.calls', 1, { attributes: { 'peer.service': 'billing' } });
    recordMetric('http.client.calls', 1, { attributes: { peer_service: 'billing' } });
    expect(await text('http_client_calls_total')).toContain('http_client_calls_total{peer_service="billing"} 2');
  });

  it('rejects values a metric cannot take', () => {
    for (const [name, value, unit] of [
      ['bad.count', -1, undefined],
      ['bad.count', Number.NaN, undefined],
      ['bad.duration', Number.POSITIVE_INFINITY, 'ms'],
    ] as const) {
      expect(() => recordMetric(name, value, unit === undefined ? {} : { unit })).toThrow(
        expect.objectContaining({ code: ErrorCodes.INVALID_METRIC_VALUE }),
      );
    }
    expect(() => recordMetric('bad.duration', -0.5, { unit: 's' })).not.toThrow();
  });

  it('rejects bad names, units and attribute keys with the option named', () => {
    expect(() => recordMetric('...', 1)).toThrow(
      expect.objectContaining({ code: ErrorCodes.INVALID_OPTION, option: 'name' }),
    );
    expect(() => recordMetric('x', 1, { unit: 'hours' as never })).toThrow(
      expect.objectContaining({ code: ErrorCodes.INVALID_OPTION, option: 'unit' }),
    );
    expect(() => recordMetric('with.le', 1, { unit: 's', attributes: { le: '1' } })).toThrow(
      expect.objectContaining({ code: ErrorCodes.INVALID_OPTION, option: 'attributes' }),
    );
    expect(() => recordMetric('two.spellings', 1, { attributes: { 'a.b': 1, a_b: 2 } })).toThrow(
      expect.objectContaining({ code: ErrorCodes.INVALID_OPTION, option: 'attributes' }),
    );
  });

  it('refuses a name that another metric already holds', () => {
    const duration = httpServerDuration(); // made as server telemetry would make it
    expect(duration).toBeDefined();
    expect(register.getSingleMetric('http_server_request_duration_seconds')).toBe(duration);
    expect(() => recordMetric('http.server.request.duration', 5, { unit: 'ms' })).toThrow(
      expect.objectContaining({ code: ErrorCodes.METRIC_CONFLICT }),
    );
  });

  it('caps label combinations: past the cap they share one _OVERFLOW series, with one warning', async () => {
    const warn = vi.spyOn(consoleLogger, 'warn').mockImplementation(() => {});
    for (let i = 0; i < MAX_SERIES_PER_METRIC + 500; i++) recordMetric('signups', 1, { attributes: { user: `u${i}` } });
    const lines = (await text('signups_total')).split('\n').filter((l) => l.startsWith('signups_total{'));
    expect(lines).toHaveLength(MAX_SERIES_PER_METRIC + 1);
    expect(lines).toContain('signups_total{user="_OVERFLOW"} 500');
    expect(warn).toHaveBeenCalledTimes(1);
    warn.mockRestore();
  });

  describe('inside a sampled span', () => {
    let tracing: InMemoryTracing;
    afterEach(async () => {
      await tracing.shutdown();
    });

    it('links a histogram observation to its trace with an exemplar (OpenMetrics only)', async () => {
      tracing = startInMemoryTracing();
      traceSpan('checkout', {}, () =>
        recordMetric('checkout.step.duration', 12, { unit: 'ms', attributes: { step: 'pay' } }),
      );
      const { traceId, spanId } = tracing.span('checkout').spanContext();
      const open = (await scrapeMetrics('application/openmetrics-text')).body;
      expect(open).toContain(
        `checkout_step_duration_seconds_bucket{le="0.025",step="pay"} 1 # {trace_id="${traceId}",span_id="${spanId}"} 0.012`,
      );
      expect((await scrapeMetrics()).body).not.toContain(traceId);
    });
  });
});
