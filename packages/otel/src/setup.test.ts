import { context, propagation, SpanKind, trace } from '@opentelemetry/api';
import { InMemorySpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { ErrorCodes, traceSpan } from '@tollgate/core';
import { HttpServerTelemetry } from '@tollgate/core/adapter';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { type OtlpReceiver, startOtlpReceiver } from '../../../test/helpers/otlp-receiver.js';
import { startRequest } from '../../../test/helpers/start-request.js';
import { setupTelemetry, type TelemetryHandle, type TelemetryOptions } from './setup.js';

const TRACE_ID = '4bf92f3577b34da6a3ce929d0e0e4736';
const PARENT_ID = '00f067aa0ba902b7';

const OTEL_ENV = [
  'OTEL_SERVICE_NAME',
  'OTEL_RESOURCE_ATTRIBUTES',
  'OTEL_EXPORTER_OTLP_ENDPOINT',
  'OTEL_EXPORTER_OTLP_TRACES_ENDPOINT',
  'OTEL_TRACES_SAMPLER',
  'OTEL_TRACES_SAMPLER_ARG',
];

let handle: TelemetryHandle | undefined;
let receiver: OtlpReceiver;

beforeEach(async () => {
  // The tests own the OTEL_* environment: an inherited value would change what they test.
  for (const name of OTEL_ENV) vi.stubEnv(name, undefined);
  receiver = await startOtlpReceiver();
});

afterEach(async () => {
  await handle?.shutdown();
  handle = undefined;
  vi.unstubAllEnvs();
  await receiver.close();
});

function setup(options: TelemetryOptions): TelemetryHandle {
  handle = setupTelemetry(options);
  return handle;
}

describe('setupTelemetry exporting OTLP/HTTP protobuf', () => {
  it('sends spans to otlpEndpoint + /v1/traces with the service resource; shutdown flushes them', async () => {
    const telemetry = setup({ serviceName: 'checkout', serviceVersion: '1.4.2', otlpEndpoint: `${receiver.url}/` });
    traceSpan('charge card', { 'payment.provider': 'acme', attempt: 2 }, () => undefined);
    const request = startRequest(new HttpServerTelemetry(), {
      method: 'GET',
      scheme: 'http',
      path: '/orders/7',
      header: (name) => (name === 'traceparent' ? `00-${TRACE_ID}-${PARENT_ID}-01` : undefined),
    });
    request.setRoute('/orders/:id');
    request.end(500);
    await telemetry.shutdown();

    expect(receiver.exports.length).toBeGreaterThan(0);
    for (const received of receiver.exports) {
      expect(received.path).toBe('/v1/traces');
      expect(received.contentType).toBe('application/x-protobuf');
      for (const { resource } of received.resourceSpans) {
        expect(resource['service.name']).toBe('checkout');
        expect(resource['service.version']).toBe('1.4.2');
        expect(resource['telemetry.sdk.language']).toBe('nodejs');
      }
    }
    const spans = receiver.spans();
    expect(spans.map((s) => s.name).sort()).toEqual(['GET /orders/:id', 'charge card']);
    const charge = spans.find((s) => s.name === 'charge card');
    expect(charge?.attributes).toEqual({ 'payment.provider': 'acme', attempt: 2 });
    expect(charge?.scope).toBe('@tollgate/core');
    const server = spans.find((s) => s.name === 'GET /orders/:id');
    expect(server?.kind).toBe(2);
    expect(server?.traceId).toBe(TRACE_ID);
    expect(server?.parentSpanId).toBe(PARENT_ID);
    expect(server?.statusCode).toBe(2);
    expect(server?.attributes).toMatchObject({
      'http.route': '/orders/:id',
      'http.response.status_code': 500,
      'error.type': '500',
    });
  });

  it('treats jaegerEndpoint as an OTLP endpoint', async () => {
    const telemetry = setup({ serviceName: 'jaeger-bound', jaegerEndpoint: receiver.url });
    traceSpan('to jaeger', {}, () => undefined);
    await telemetry.shutdown();
    expect(receiver.spans().map((s) => s.name)).toEqual(['to jaeger']);
    expect(receiver.exports[0]?.resourceSpans[0]?.resource['service.name']).toBe('jaeger-bound');
  });

  it('lets the standard environment variables override the options', async () => {
    vi.stubEnv('OTEL_EXPORTER_OTLP_ENDPOINT', receiver.url);
    vi.stubEnv('OTEL_SERVICE_NAME', 'from-env');
    vi.stubEnv('OTEL_RESOURCE_ATTRIBUTES', 'deployment.environment.name=staging');
    // Nothing listens on port 9: only the environment's endpoint can receive the span.
    const telemetry = setup({ serviceName: 'from-code', otlpEndpoint: 'http://127.0.0.1:9' });
    traceSpan('env routed', {}, () => undefined);
    await telemetry.shutdown();
    expect(receiver.spans().map((s) => s.name)).toEqual(['env routed']);
    const resource = receiver.exports[0]?.resourceSpans[0]?.resource;
    expect(resource?.['service.name']).toBe('from-env');
    expect(resource?.['deployment.environment.name']).toBe('staging');
  });
});

describe('setupTelemetry sampling', () => {
  it('samples no new traces at sampleRatio 0, but follows a sampled caller (parent-based)', async () => {
    const exporter = new InMemorySpanExporter();
    const telemetry = setup({
      serviceName: 'sampling',
      sampleRatio: 0,
      spanProcessors: [new SimpleSpanProcessor(exporter)],
    });
    traceSpan('root', {}, () => undefined);
    const telemetryHttp = new HttpServerTelemetry();
    const sampledCaller = (flags: string) =>
      startRequest(telemetryHttp, {
        method: 'GET',
        scheme: 'http',
        path: '/',
        header: (name) => (name === 'traceparent' ? `00-${TRACE_ID}-${PARENT_ID}-${flags}` : undefined),
      });
    sampledCaller('01').end(200);
    sampledCaller('00').end(200);
    await telemetry.forceFlush();
    const spans = exporter.getFinishedSpans();
    expect(spans).toHaveLength(1);
    expect(spans[0]?.kind).toBe(SpanKind.SERVER);
    expect(spans[0]?.parentSpanContext?.spanId).toBe(PARENT_ID);
  });

  it('honours OTEL_TRACES_SAMPLER over sampleRatio', async () => {
    vi.stubEnv('OTEL_TRACES_SAMPLER', 'always_off');
    const exporter = new InMemorySpanExporter();
    const telemetry = setup({
      serviceName: 'sampling',
      sampleRatio: 1,
      spanProcessors: [new SimpleSpanProcessor(exporter)],
    });
    traceSpan('dropped', {}, () => undefined);
    await telemetry.forceFlush();
    expect(exporter.getFinishedSpans()).toHaveLength(0);
  });

  it('honours OTEL_TRACES_SAMPLER_ARG for a ratio sampler', async () => {
    vi.stubEnv('OTEL_TRACES_SAMPLER', 'parentbased_traceidratio');
    vi.stubEnv('OTEL_TRACES_SAMPLER_ARG', '0');
    const exporter = new InMemorySpanExporter();
    const telemetry = setup({ serviceName: 'sampling', spanProcessors: [new SimpleSpanProcessor(exporter)] });
    traceSpan('dropped', {}, () => undefined);
    await telemetry.forceFlush();
    expect(exporter.getFinishedSpans()).toHaveLength(0);
  });
});

describe('setupTelemetry global registration', () => {
  it('registers the provider, the W3C propagator and an async context manager globally', async () => {
    const exporter = new InMemorySpanExporter();
    const telemetry = setup({ serviceName: 'globals', spanProcessors: [new SimpleSpanProcessor(exporter)] });
    expect(trace.getTracerProvider()).not.toBe(telemetry.tracerProvider); // the API's proxy...
    expect((trace.getTracerProvider() as unknown as { getDelegate(): unknown }).getDelegate()).toBe(
      telemetry.tracerProvider,
    );
    const carrier: Record<string, string> = {};
    await traceSpan('outer', {}, async (span) => {
      await new Promise((resolve) => setImmediate(resolve));
      expect(trace.getActiveSpan()).toBe(span);
      propagation.inject(context.active(), carrier);
      expect(carrier.traceparent).toBe(`00-${span.spanContext().traceId}-${span.spanContext().spanId}-01`);
    });
  });

  it('refuses a second setup while one is registered, and allows one after shutdown', async () => {
    const first = setup({ serviceName: 'first', spanProcessors: [] });
    expect(() => setupTelemetry({ serviceName: 'second', spanProcessors: [] })).toThrow(
      expect.objectContaining({ code: ErrorCodes.TELEMETRY_ALREADY_REGISTERED }),
    );
    await first.shutdown();
    await first.shutdown(); // idempotent
    expect(trace.getActiveSpan()).toBeUndefined();
    const exporter = new InMemorySpanExporter();
    const second = setup({ serviceName: 'second', spanProcessors: [new SimpleSpanProcessor(exporter)] });
    traceSpan('after restart', {}, () => undefined);
    await second.forceFlush();
    expect(exporter.getFinishedSpans().map((s) => s.resource.attributes['service.name'])).toEqual(['second']);
  });
});

describe('setupTelemetry options', () => {
  it.each([
    [{}, 'serviceName', ErrorCodes.INVALID_OPTION],
    [{ serviceName: '  ' }, 'serviceName', ErrorCodes.INVALID_OPTION],
    [{ serviceName: 's', serviceVersion: 3 }, 'serviceVersion', ErrorCodes.INVALID_OPTION],
    [{ serviceName: 's', sampleRatio: 1.5 }, 'sampleRatio', ErrorCodes.INVALID_OPTION],
    [{ serviceName: 's', sampleRatio: '0.5' }, 'sampleRatio', ErrorCodes.INVALID_OPTION],
    [{ serviceName: 's', otlpEndpoint: 'collector:4318' }, 'otlpEndpoint', ErrorCodes.INVALID_OPTION],
    [{ serviceName: 's', otlpEndpoint: 'ftp://collector' }, 'otlpEndpoint', ErrorCodes.INVALID_OPTION],
    [{ serviceName: 's', otlpEndpoint: 'http://collector:4318/v1/traces' }, 'otlpEndpoint', ErrorCodes.INVALID_OPTION],
    [{ serviceName: 's', jaegerEndpoint: 'http://j:4318?x=1' }, 'jaegerEndpoint', ErrorCodes.INVALID_OPTION],
    [
      { serviceName: 's', otlpEndpoint: 'http://a:4318', jaegerEndpoint: 'http://b:4318' },
      'jaegerEndpoint',
      ErrorCodes.INVALID_OPTION,
    ],
    [{ serviceName: 's', exporter: {} }, 'exporter', ErrorCodes.INVALID_OPTION],
    [{ serviceName: 's', spanProcessors: [{}] }, 'spanProcessors', ErrorCodes.INVALID_OPTION],
    [
      { serviceName: 's', spanProcessors: [], otlpEndpoint: 'http://a:4318' },
      'spanProcessors',
      ErrorCodes.INVALID_OPTION,
    ],
    [{ serviceName: 's', servicename: 'typo' }, 'servicename', ErrorCodes.UNKNOWN_OPTION],
  ])('rejects %j naming %s', (options, option, code) => {
    let thrown: unknown;
    try {
      setupTelemetry(options as never);
    } catch (error) {
      thrown = error;
    }
    expect(thrown).toMatchObject({ code, option });
    expect((thrown as Error).message).toContain(`\`${option}\``);
    // Nothing was registered on the way to the error.
    expect(
      (trace.getTracerProvider() as unknown as { getDelegateTracer(n: string): unknown }).getDelegateTracer('x'),
    ).toBeUndefined();
  });
});
