import { ProxyTracerProvider, type Tracer, trace } from '@opentelemetry/api';

/** The instrumentation scope of every span tollgate starts. */
export const TRACER_NAME = '@tollgate/core';

/**
 * The global tracer, looked up on each use: without `setupTelemetry` (or another SDK) it is the
 * API's no-op tracer, and a tracer kept from an earlier provider would outlive its `shutdown()`.
 */
export function tollgateTracer(): Tracer {
  return trace.getTracer(TRACER_NAME);
}

/**
 * tollgate's tracer, or `undefined` while no tracer provider is registered: then every span
 * would be a no-op, and a request can skip building one (metrics-only telemetry).
 */
export function tracerIfTracing(): Tracer | undefined {
  const provider = trace.getTracerProvider();
  if (provider instanceof ProxyTracerProvider) return provider.getDelegateTracer(TRACER_NAME);
  return provider.getTracer(TRACER_NAME);
}
