import type {
  HttpRequestInfo,
  HttpServerTelemetry,
  RequestTelemetry,
} from '../../packages/core/src/telemetry/http-server-telemetry.js';

/** Starts a request from a ready-made description, as an adapter does lazily. */
export function startRequest(telemetry: HttpServerTelemetry, info: HttpRequestInfo): RequestTelemetry {
  return telemetry.start(info.method, () => info);
}
