import type { Tracer } from '@opentelemetry/api';
import { otelApi, otelApiIfInstalled } from './peers.js';

/** The instrumentation scope of every span tollgate starts. */
export const TRACER_NAME = '@tollgate/core';

/**
 * The global tracer, looked up on each use: without an SDK (`setupTelemetry` from
 * `@tollgate/otel`, or the app's own) it is the API's no-op tracer, and a tracer kept from an
 * earlier provider would outlive its `shutdown()`. `feature` names the caller in the error
 * thrown when `@opentelemetry/api` is not installed.
 */
export function tollgateTracer(feature: string): Tracer {
  return otelApi(feature).trace.getTracer(TRACER_NAME);
}

/**
 * tollgate's tracer, or `undefined` while no tracer provider is registered (or the API is not
 * installed): then every span would be a no-op, and a request can skip building one
 * (metrics-only telemetry).
 */
export function tracerIfTracing(): Tracer | undefined {
  const api = otelApiIfInstalled();
  if (api === undefined) return undefined;
  const provider = api.trace.getTracerProvider();
  if (provider instanceof api.ProxyTracerProvider) return provider.getDelegateTracer(TRACER_NAME);
  return provider.getTracer(TRACER_NAME);
}
