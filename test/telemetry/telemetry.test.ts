import { SpanKind, SpanStatusCode } from '@opentelemetry/api';
import type { ReadableSpan } from '@opentelemetry/sdk-trace-base';
import { register } from '@tollgate/core';
import { afterAll, beforeEach, describe, expect, it } from 'vitest';
import { startInMemoryTracing } from '../helpers/in-memory-tracing.js';
import { injectedPromtool, runPromtool } from '../helpers/promtool.js';
import { telemetryApps } from './apps.js';

const tracing = startInMemoryTracing('telemetry-adapters');
afterAll(() => tracing.shutdown());
beforeEach(() => tracing.exporter.reset());

/** Missing outside CI, the promtool lint is skipped with one loud line from test/global-setup.ts. */
const { available: hasPromtool } = injectedPromtool();

const servers = (s: ReadableSpan[]) => s.filter((span) => span.kind === SpanKind.SERVER);

/** Spans end just after the response; wait until the server span has been exported. */
async function serverSpans(count = 1): Promise<ReadableSpan[]> {
  for (let i = 0; i < 200; i++) {
    const found = servers(tracing.spans());
    if (found.length >= count) return found;
    await new Promise((r) => setTimeout(r, 5));
  }
  throw new Error(`expected ${count} server spans, got ${servers(tracing.spans()).length}`);
}

function durationSeries(): number {
  const metric = register.getSingleMetric('http_server_request_duration_seconds') as unknown as {
    hashMap: Record<string, unknown>;
  };
  return Object.keys(metric.hashMap).length;
}

for (const app of telemetryApps) {
  describe(`telemetry() in ${app.name}`, async () => {
    const server = await app.start();
    afterAll(() => server.close());

    it('names the span by route template and records the stable HTTP attributes, never query or token', async () => {
      const res = await fetch(`${server.url}/users/42?secret=hunter2`, {
        headers: { authorization: 'Bearer sk-secret-token', 'user-agent': 'conformance/1.0' },
      });
      expect(res.status).toBe(200);
      const [span] = await serverSpans();
      expect(span?.name).toBe('GET /users/:id');
      expect(span?.attributes).toMatchObject({
        'http.request.method': 'GET',
        'url.path': '/users/42',
        'url.scheme': 'http',
        'http.route': '/users/:id',
        'http.response.status_code': 200,
        'server.address': '127.0.0.1',
        'client.address': '127.0.0.1',
        'user_agent.original': 'conformance/1.0',
        'network.protocol.version': '1.1',
        'tollgate.ratelimit.limited': false,
      });
      expect(typeof span?.attributes['server.port']).toBe('number');
      expect(span?.status.code).toBe(SpanStatusCode.UNSET);
      const everything = JSON.stringify(tracing.spans().map((s) => [s.name, s.attributes, s.events]));
      expect(everything).not.toContain('hunter2');
      expect(everything).not.toContain('sk-secret-token');
      // The handler's span is a child of the server span.
      const child = tracing.spans().find((s) => s.name === 'load user');
      expect(child?.parentSpanContext?.spanId).toBe(span?.spanContext().spanId);
      expect(child?.spanContext().traceId).toBe(span?.spanContext().traceId);
    });

    it('continues an incoming traceparent instead of starting a new trace', async () => {
      const traceId = '4bf92f3577b34da6a3ce929d0e0e4736';
      const parent = '00f067aa0ba902b7';
      await fetch(`${server.url}/users/7`, { headers: { traceparent: `00-${traceId}-${parent}-01` } });
      const [span] = await serverSpans();
      expect(span?.spanContext().traceId).toBe(traceId);
      expect(span?.parentSpanContext?.spanId).toBe(parent);
    });

    it('leaves 4xx spans unset and marks 5xx and thrown errors as ERROR', async () => {
      expect((await fetch(`${server.url}/teapot`)).status).toBe(418);
      const [teapot] = await serverSpans();
      expect(teapot?.status.code).toBe(SpanStatusCode.UNSET);
      expect(teapot?.attributes['http.response.status_code']).toBe(418);
      tracing.exporter.reset();
      expect((await fetch(`${server.url}/boom`)).status).toBe(500);
      const [boom] = await serverSpans();
      expect(boom?.name).toBe('GET /boom');
      expect(boom?.status.code).toBe(SpanStatusCode.ERROR);
      expect(boom?.attributes['error.type']).toBeDefined();
    });

    it('an unmatched path is named by method alone and labelled as unmatched', async () => {
      await fetch(`${server.url}/no/such/path`);
      const [span] = await serverSpans();
      expect(span?.name).toBe('GET');
      expect(span?.attributes['http.route']).toBeUndefined();
      const scrape = await (await fetch(`${server.url}/metrics`)).text();
      expect(scrape).toMatch(/http_server_request_duration_seconds_count\{[^}]*http_route="_UNMATCHED"/);
      expect(scrape).not.toContain('/no/such/path');
    });

    it('10,000 distinct unmatched paths leave the series count unchanged', async () => {
      await fetch(`${server.url}/warm/up`);
      const before = durationSeries();
      for (let i = 0; i < 10_000; i += 100) {
        await Promise.all(
          Array.from({ length: 100 }, (_, j) => fetch(`${server.url}/random/${i + j}`).then((r) => r.arrayBuffer())),
        );
      }
      expect(durationSeries()).toBe(before);
    });

    it('serves Prometheus text, and OpenMetrics with exemplars when asked', async () => {
      const res = await fetch(`${server.url}/metrics`);
      expect(res.headers.get('content-type')).toContain('text/plain');
      const text = await res.text();
      expect(text).toContain('http_server_request_duration_seconds_bucket');
      expect(text).toContain('tollgate_ratelimit_decisions_total');
      const open = await fetch(`${server.url}/metrics`, {
        headers: { accept: 'application/openmetrics-text; version=1.0.0' },
      });
      expect(open.headers.get('content-type')).toContain('application/openmetrics-text');
      const body = await open.text();
      expect(body).toMatch(/# \{trace_id="[0-9a-f]{32}",span_id="[0-9a-f]{16}"\}/);
      expect(body.trimEnd().endsWith('# EOF')).toBe(true);
    });

    it.skipIf(!hasPromtool)('serves metrics that promtool check metrics accepts', async () => {
      const text = await (await fetch(`${server.url}/metrics`)).text();
      expect(text).toContain('tollgate_ratelimit_decisions_total');
      expect(runPromtool(['check', 'metrics'], { input: text })).toEqual({ status: 0, output: '' });
    });
  });
}
