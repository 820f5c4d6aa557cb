import { context, SpanKind, SpanStatusCode, trace } from '@opentelemetry/api';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { type InMemoryTracing, startInMemoryTracing } from '../../../../test/helpers/in-memory-tracing.js';
import { startRequest } from '../../../../test/helpers/start-request.js';
import { ErrorCodes } from '../errors.js';
import type { Logger } from '../log.js';
import { httpServerDuration } from './http-metrics.js';
import { type HttpRequestInfo, HttpServerTelemetry } from './http-server-telemetry.js';
import { register } from './registry.js';
import { scrapeMetrics } from './scrape.js';
import { traceSpan } from './trace.js';

const TRACE_ID = '4bf92f3577b34da6a3ce929d0e0e4736';
const PARENT_ID = '00f067aa0ba902b7';

function request(overrides: Partial<HttpRequestInfo> = {}, headers: Record<string, string> = {}): HttpRequestInfo {
  return {
    method: 'GET',
    scheme: 'http',
    path: '/users/42',
    serverAddress: 'api.example.com',
    serverPort: 8080,
    clientAddress: '203.0.113.7',
    userAgent: 'curl/8.5.0',
    protocolVersion: '1.1',
    header: (name) => headers[name],
    ...overrides,
  };
}

function silentLogger() {
  return {
    info: vi.fn<Logger['info']>(),
    warn: vi.fn<Logger['warn']>(),
    error: vi.fn<Logger['error']>(),
  } satisfies Logger;
}

/** The duration family (telemetry() is built by every test here, so it exists). */
function duration() {
  const family = httpServerDuration();
  if (family === undefined) throw new Error('http_server_request_duration_seconds was not made');
  return family;
}

/** The `_count` of the duration series with exactly these labels. */
async function observations(labels: Record<string, string>): Promise<number> {
  const data = await duration().get();
  const series = data.values.find(
    (v) =>
      (v as { metricName?: string }).metricName === 'http_server_request_duration_seconds_count' &&
      JSON.stringify(Object.entries(v.labels).sort()) === JSON.stringify(Object.entries(labels).sort()),
  );
  return series?.value ?? 0;
}

async function seriesCount(): Promise<number> {
  const body = await register.metrics();
  return body.split('\n').filter((line) => line !== '' && !line.startsWith('#')).length;
}

describe('HttpServerTelemetry with the SDK', () => {
  let tracing: InMemoryTracing;
  let telemetry: HttpServerTelemetry;
  beforeEach(() => {
    tracing = startInMemoryTracing();
    telemetry = new HttpServerTelemetry({ logger: silentLogger() });
  });
  afterEach(async () => {
    await tracing.shutdown();
  });

  it('makes one SERVER span named by method and route, with the stable semconv attributes', () => {
    const req = startRequest(
      telemetry,
      request({ path: '/users/42?token=secret#frag' }, { authorization: 'Bearer secret-token', cookie: 'sid=secret' }),
    );
    req.setRoute('/users/:id');
    req.end(200);
    const [span, ...others] = tracing.spans();
    expect(others).toHaveLength(0);
    expect(span?.name).toBe('GET /users/:id');
    expect(span?.kind).toBe(SpanKind.SERVER);
    expect(span?.attributes).toEqual({
      'http.request.method': 'GET',
      'url.path': '/users/42',
      'url.scheme': 'http',
      'http.route': '/users/:id',
      'http.response.status_code': 200,
      'server.address': 'api.example.com',
      'server.port': 8080,
      'client.address': '203.0.113.7',
      'user_agent.original': 'curl/8.5.0',
      'network.protocol.version': '1.1',
    });
    expect(JSON.stringify(span?.attributes)).not.toMatch(/secret|token=|Bearer/);
    expect(span?.status.code).toBe(SpanStatusCode.UNSET);
    expect(span?.parentSpanContext).toBeUndefined();
  });

  it('names the span by method alone when no route matched, never by the path', () => {
    const req = startRequest(telemetry, request({ path: '/no/such/page' }));
    req.setRoute(undefined);
    req.end(404);
    const span = tracing.span('GET');
    expect(span.attributes['http.route']).toBeUndefined();
    expect(span.attributes['url.path']).toBe('/no/such/page');
  });

  it('continues an incoming W3C traceparent instead of starting a new trace', () => {
    const req = startRequest(telemetry, request({}, { traceparent: `00-${TRACE_ID}-${PARENT_ID}-01` }));
    req.end(200);
    const span = tracing.span('GET');
    expect(span.spanContext().traceId).toBe(TRACE_ID);
    expect(span.parentSpanContext?.spanId).toBe(PARENT_ID);
    expect(span.parentSpanContext?.isRemote).toBe(true);
  });

  it('starts a new trace for a malformed traceparent', () => {
    startRequest(telemetry, request({}, { traceparent: 'garbage' })).end(200);
    const span = tracing.span('GET');
    expect(span.parentSpanContext).toBeUndefined();
    expect(span.spanContext().traceId).not.toBe(TRACE_ID);
  });

  it('gives the handler a context in which new spans are children of the server span', async () => {
    const req = startRequest(telemetry, request({}, { traceparent: `00-${TRACE_ID}-${PARENT_ID}-01` }));
    await req.run(async () => {
      await new Promise((resolve) => setImmediate(resolve));
      await traceSpan('db.query', {}, async () => undefined);
    });
    context.with(req.context, () => traceSpan('render', {}, () => undefined));
    req.setRoute('/users/:id');
    req.end(200);
    const server = tracing.span('GET /users/:id');
    for (const name of ['db.query', 'render']) {
      const child = tracing.span(name);
      expect(child.parentSpanContext?.spanId).toBe(server.spanContext().spanId);
      expect(child.spanContext().traceId).toBe(TRACE_ID);
    }
  });

  it('leaves the status unset for 4xx: the server did its job', () => {
    const req = startRequest(telemetry, request());
    req.setRoute('/users/:id');
    req.end(429);
    const span = tracing.span('GET /users/:id');
    expect(span.status.code).toBe(SpanStatusCode.UNSET);
    expect(span.attributes['http.response.status_code']).toBe(429);
    expect(span.attributes['error.type']).toBeUndefined();
  });

  it('marks 5xx as ERROR with error.type the status code', () => {
    const req = startRequest(telemetry, request({ method: 'POST' }));
    req.setRoute('/orders');
    req.end(503);
    const span = tracing.span('POST /orders');
    expect(span.status.code).toBe(SpanStatusCode.ERROR);
    expect(span.attributes['error.type']).toBe('503');
    expect(span.events).toHaveLength(0);
  });

  it('records a thrown error: exception event, ERROR, error.type the class name', () => {
    class PaymentDeclined extends Error {}
    const req = startRequest(telemetry, request({ method: 'POST' }));
    req.setRoute('/pay');
    req.end(500, new PaymentDeclined('card declined'));
    const span = tracing.span('POST /pay');
    expect(span.status).toEqual({ code: SpanStatusCode.ERROR, message: 'card declined' });
    expect(span.attributes['error.type']).toBe('PaymentDeclined');
    expect(span.events.map((e) => e.name)).toEqual(['exception']);
  });

  it('reports an unknown method as _OTHER (span name HTTP) and keeps the original', () => {
    const req = startRequest(telemetry, request({ method: 'PURGE' }));
    req.setRoute('/cache');
    req.end(204);
    const span = tracing.span('HTTP /cache');
    expect(span.attributes['http.request.method']).toBe('_OTHER');
    expect(span.attributes['http.request.method_original']).toBe('PURGE');
  });

  it('enriches a server span already made by OpenTelemetry HTTP instrumentation instead of nesting one', () => {
    const outer = trace.getTracer('@opentelemetry/instrumentation-http').startSpan('GET', { kind: SpanKind.SERVER });
    const req = context.with(trace.setSpan(context.active(), outer), () => startRequest(telemetry, request()));
    expect(req.span).toBe(outer);
    req.run(() => traceSpan('handler', {}, () => undefined));
    req.setRoute('/users/:id');
    req.end(200);
    expect(tracing.spans().map((s) => s.name)).toEqual(['handler']);
    outer.end();
    const enriched = tracing.span('GET /users/:id');
    expect(enriched.attributes['http.route']).toBe('/users/:id');
    expect(tracing.span('handler').parentSpanContext?.spanId).toBe(enriched.spanContext().spanId);
  });

  it('counts a request once when telemetry is nested in telemetry (app and router level)', async () => {
    const labels = { http_request_method: 'GET', http_route: '/nested', http_response_status_code: '200' };
    const outer = startRequest(telemetry, request());
    const inner = outer.run(() => startRequest(telemetry, request()));
    expect(inner.span).toBe(outer.span);
    inner.setRoute('/nested');
    inner.end(200);
    outer.setRoute('/nested');
    outer.end(200);
    expect(tracing.spans().map((s) => s.name)).toEqual(['GET /nested']);
    expect(await observations(labels)).toBe(1);
  });

  it('nests under an active span that is not a server span', () => {
    traceSpan('job', {}, () => startRequest(telemetry, request()).end(200));
    expect(tracing.span('GET').parentSpanContext?.spanId).toBe(tracing.span('job').spanContext().spanId);
  });

  it('observes one duration per request, labelled by method, route template and status', async () => {
    const labels = { http_request_method: 'GET', http_route: '/metrics-test/:id', http_response_status_code: '200' };
    const before = await observations(labels);
    for (const id of [1, 2, 3]) {
      const req = startRequest(telemetry, request({ path: `/metrics-test/${id}` }));
      req.setRoute('/metrics-test/:id');
      req.end(200);
      req.end(200); // a second end is ignored
    }
    expect(await observations(labels)).toBe(before + 3);
    const failing = startRequest(telemetry, request({ path: '/metrics-test/9' }));
    failing.setRoute('/metrics-test/:id');
    failing.end(502);
    expect(await observations({ ...labels, http_response_status_code: '502', error_type: '502' })).toBe(1);
  });

  it('labels every unmatched request with one constant route', async () => {
    const labels = { http_request_method: 'GET', http_route: '_UNMATCHED', http_response_status_code: '404' };
    const before = await observations(labels);
    startRequest(telemetry, request({ path: '/a' })).end(404);
    startRequest(telemetry, request({ path: '/b' })).end(404);
    expect(await observations(labels)).toBe(before + 2);
  });

  it('10,000 distinct unmatched paths leave the series count unchanged', async () => {
    startRequest(telemetry, request({ path: '/warm-up' })).end(404);
    const series = await seriesCount();
    for (let i = 0; i < 10_000; i++) {
      startRequest(telemetry, request({ path: `/probe/${i}` })).end(404);
    }
    expect(await seriesCount()).toBe(series);
    expect(await register.metrics()).not.toContain('/probe/');
  });

  it('caps distinct route values: past maxRoutes, new routes share _OVERFLOW and a warning is logged once', async () => {
    const logger = silentLogger();
    const capped = new HttpServerTelemetry({ maxRoutes: 3, logger });
    for (let i = 0; i < 10; i++) {
      const req = startRequest(capped, request({ method: 'DELETE', path: `/cap/${i}` }));
      req.setRoute(`/cap/${i}`);
      req.end(200);
    }
    const routes = new Set(
      (await duration().get()).values
        .filter((v) => v.labels.http_request_method === 'DELETE')
        .map((v) => v.labels.http_route),
    );
    expect(routes).toEqual(new Set(['/cap/0', '/cap/1', '/cap/2', '_OVERFLOW']));
    expect(logger.warn).toHaveBeenCalledTimes(1);
    // Spans keep the real route: only the metric label is capped.
    expect(tracing.span('DELETE /cap/9').attributes['http.route']).toBe('/cap/9');
  });

  it('gives sampled requests a trace_id exemplar in OpenMetrics output only', async () => {
    const req = startRequest(telemetry, request({ method: 'PATCH', path: '/exemplar/1' }));
    req.setRoute('/exemplar/:id');
    req.end(200);
    const { traceId, spanId } = tracing.span('PATCH /exemplar/:id').spanContext();
    const open = await scrapeMetrics('application/openmetrics-text; version=1.0.0');
    const line = open.body
      .split('\n')
      .find(
        (l) =>
          l.startsWith('http_server_request_duration_seconds_bucket{') &&
          l.includes('/exemplar/:id') &&
          l.includes(' # {'),
      );
    expect(line).toMatch(new RegExp(`# \\{trace_id="${traceId}",span_id="${spanId}"\\} [0-9.e-]+ [0-9.]+$`));
    const text = await scrapeMetrics();
    expect(text.body).not.toContain(traceId);
  });

  it('gives unsampled requests no exemplar', async () => {
    const req = startRequest(
      telemetry,
      request({ method: 'PATCH', path: '/exemplar/2' }, { traceparent: `00-${TRACE_ID}-${PARENT_ID}-00` }),
    );
    req.setRoute('/unsampled/:id');
    req.end(200);
    expect(tracing.spans()).toHaveLength(0);
    const open = await scrapeMetrics('application/openmetrics-text');
    const lines = open.body.split('\n').filter((l) => l.includes('/unsampled/:id'));
    expect(lines.length).toBeGreaterThan(0);
    expect(lines.some((l) => l.includes('trace_id'))).toBe(false);
  });
});

describe('HttpServerTelemetry never breaks a request', () => {
  it('works without setupTelemetry: no-op spans, durations still observed', async () => {
    const telemetry = new HttpServerTelemetry();
    const labels = { http_request_method: 'GET', http_route: '/no-sdk', http_response_status_code: '200' };
    const req = startRequest(telemetry, request({}, { traceparent: `00-${TRACE_ID}-${PARENT_ID}-01` }));
    expect(req.run(() => 'handled')).toBe('handled');
    req.setRoute('/no-sdk');
    req.end(200);
    expect(await observations(labels)).toBe(1);
  });

  it('without a tracer provider, never reads the rest of the request: metrics need only the method', async () => {
    const telemetry = new HttpServerTelemetry();
    const describe = vi.fn(() => request());
    const req = telemetry.start('GET', describe);
    req.setRoute('/metrics-only');
    req.end(204);
    expect(describe).not.toHaveBeenCalled();
    expect(
      await observations({ http_request_method: 'GET', http_route: '/metrics-only', http_response_status_code: '204' }),
    ).toBe(1);
    const tracing = startInMemoryTracing();
    try {
      telemetry.start('GET', describe).end(200);
      expect(describe).toHaveBeenCalledTimes(1);
      expect(tracing.spans()).toHaveLength(1);
    } finally {
      await tracing.shutdown();
    }
  });

  it('survives a failing adapter callback, logging the failure once', async () => {
    const tracing = startInMemoryTracing();
    try {
      const logger = silentLogger();
      const telemetry = new HttpServerTelemetry({ logger });
      // A throwing header reader is absorbed by OpenTelemetry's propagator; a throwing field is not.
      const broken = Object.defineProperty(
        request({
          header: () => {
            throw new Error('header reader broke');
          },
        }),
        'path',
        {
          get() {
            throw new Error('path reader broke');
          },
        },
      );
      for (let i = 0; i < 2; i++) {
        const req = startRequest(telemetry, broken);
        expect(req.run(() => 'still handled')).toBe('still handled');
        req.setRoute('/broken');
        req.end(200);
      }
      expect(logger.error).toHaveBeenCalledTimes(1);
      expect(
        await observations({ http_request_method: 'GET', http_route: '/broken', http_response_status_code: '200' }),
      ).toBe(2);
    } finally {
      await tracing.shutdown();
    }
  });

  it('validates its options once, at construction', () => {
    expect(() => new HttpServerTelemetry({ maxRoutes: 0 })).toThrow(
      expect.objectContaining({ code: ErrorCodes.INVALID_OPTION, option: 'maxRoutes' }),
    );
    expect(() => new HttpServerTelemetry({ maxroutes: 5 } as never)).toThrow(
      expect.objectContaining({ code: ErrorCodes.UNKNOWN_OPTION, option: 'maxroutes' }),
    );
    expect(() => new HttpServerTelemetry({ logger: console.log } as never)).toThrow(
      expect.objectContaining({ code: ErrorCodes.INVALID_OPTION, option: 'logger' }),
    );
  });
});
