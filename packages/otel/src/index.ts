/**
 * tollgate's opt-in tracing setup: `setupTelemetry()` starts the OpenTelemetry SDK (2.x) with
 * an OTLP/HTTP exporter for an app that has none. `@tollgate/core` and the adapters only talk to
 * `@opentelemetry/api`, so an app that runs its own SDK needs nothing from here.
 *
 * @packageDocumentation
 * @module @tollgate/otel
 */
export { setupTelemetry, type TelemetryHandle, type TelemetryOptions } from './setup.js';
