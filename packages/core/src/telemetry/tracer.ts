import { type Tracer, trace } from '@opentelemetry/api';

/** The instrumentation scope of every span tollgate starts. */
export const TRACER_NAME = '@tollgate/core';

/**
 * The global tracer, looked up on each use: without `setupTelemetry` (or another SDK) it is the
 * API's no-op tracer, and a tracer kept from an earlier provider would outlive its `shutdown()`.
 */
export function tollgateTracer(): Tracer {
  return trace.getTracer(TRACER_NAME);
}
