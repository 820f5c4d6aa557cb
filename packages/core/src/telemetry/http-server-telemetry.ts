import { isIP } from 'node:net';
import type * as OtelApiModule from '@opentelemetry/api';
import type { Attributes, Context, Span, TextMapGetter } from '@opentelemetry/api';
import { InvalidOptionError } from '../errors.js';
import { consoleLogger, isLogger, type Logger } from '../log.js';
import { assertKnownOptions, assertOptionsObject, positiveInteger } from '../options/validate.js';
import { BoundedValues } from './bounded-values.js';
import { asException, errorType } from './error-type.js';
import { exemplarFor } from './exemplar.js';
import { FailureLog } from './failure-log.js';
import { normalizeMethod, OTHER_METHOD, serverSpanName } from './http-method.js';
import { type HttpDurationLabel, httpServerDuration, UNMATCHED_ROUTE } from './http-metrics.js';
import { otelApi, promClient } from './peers.js';
import {
  ATTR_CLIENT_ADDRESS,
  ATTR_ERROR_TYPE,
  ATTR_HTTP_REQUEST_METHOD,
  ATTR_HTTP_REQUEST_METHOD_ORIGINAL,
  ATTR_HTTP_RESPONSE_STATUS_CODE,
  ATTR_HTTP_ROUTE,
  ATTR_NETWORK_PROTOCOL_VERSION,
  ATTR_SERVER_ADDRESS,
  ATTR_SERVER_PORT,
  ATTR_URL_PATH,
  ATTR_URL_SCHEME,
  ATTR_USER_AGENT_ORIGINAL,
} from './semconv.js';
import { TRACER_NAME, tracerIfTracing } from './tracer.js';

type OtelApi = typeof OtelApiModule;

/** The options of every adapter's `telemetry()`; all are optional. */
export interface HttpServerTelemetryOptions {
  /**
   * Most distinct `http_route` label values (default 1000). A request whose route would be one
   * more is counted under `http_route="_OVERFLOW"`, so a router that reports raw paths as
   * routes cannot explode the series count. Spans keep the real route.
   */
  maxRoutes?: number | undefined;
  /** Where a telemetry failure is logged, once per kind (default: stderr). */
  logger?: Logger | undefined;
}

/** The request as the adapter sees it when it starts handling it. */
export interface HttpRequestInfo {
  /** As received; normalized to a known method or `_OTHER`. */
  method: string;
  /** `'http'` or `'https'`, as the server (or its trusted proxy) saw it. */
  scheme: string;
  /** The path only: a query string is dropped here too, since it can carry secrets. */
  path: string;
  serverAddress?: string | undefined;
  serverPort?: number | undefined;
  /** The client address, per the framework's trust-proxy setting. */
  clientAddress?: string | undefined;
  userAgent?: string | undefined;
  /** `'1.0'`, `'1.1'`, `'2'`. */
  protocolVersion?: string | undefined;
  /** A request header by lower-case name (the first value, if repeated); read for `traceparent`. */
  header(name: string): string | undefined;
}

/** One request's telemetry, from `HttpServerTelemetry.start()` to `end()`. */
export interface RequestTelemetry {
  /**
   * The context to run the rest of the request in (`context.with(telemetry.context, next)`, or
   * `run`), so spans started by handlers are children of the server span.
   */
  readonly context: Context;
  /** The server span: tollgate's own, or the one OpenTelemetry's HTTP instrumentation made. */
  readonly span: Span;
  /** Runs `fn` in `context`. */
  run<T>(fn: () => T): T;
  /**
   * The matched route template (`/users/:id`), once the router knows it; `undefined` or `''`
   * for none. Never the raw path.
   */
  setRoute(route: string | undefined): void;
  /**
   * Ends the request: status and error on the span, one duration observation. `error` is what the
   * handler threw, if it did. Call it when the response finishes or the connection closes,
   * whichever comes first; calls after the first are ignored.
   */
  end(statusCode: number, error?: unknown): void;
}

const KNOWN_OPTIONS: ReadonlySet<string> = new Set(['maxRoutes', 'logger']);

const headerGetter: TextMapGetter<HttpRequestInfo> = {
  keys: () => [],
  get: (carrier, key) => carrier.header(key.toLowerCase()),
};

/**
 * The framework-neutral part of every adapter's `telemetry()`: one SERVER span per request
 * following the stable HTTP semantic conventions, continuing an incoming W3C `traceparent`, and
 * one `http_server_request_duration_seconds` observation, with the trace as its exemplar when
 * sampled. When OpenTelemetry's own HTTP instrumentation already made the server span, that span
 * is enriched (route, rate-limit attributes) rather than a second one nested in it.
 *
 * Telemetry never breaks a request: failures inside are caught and logged once.
 *
 * @example
 * const telemetry = new HttpServerTelemetry();
 * const request = telemetry.start(req.method, () => ({ method: req.method, scheme: 'http', path, header: (name) => firstHeader(req, name) }));
 * res.once('close', () => { request.setRoute(routeTemplateOf(req)); request.end(res.statusCode); });
 * request.run(() => next());
 */
export class HttpServerTelemetry {
  /** `@opentelemetry/api`, found when the first telemetry() is built. */
  private readonly api: OtelApi;
  /** The span of a request no span was made for: records nothing, links no exemplar. */
  private readonly inertSpan: Span;
  private readonly routes: BoundedValues;
  private readonly failures: FailureLog;
  private readonly logger: Logger;
  private overflowLogged = false;

  constructor(options?: HttpServerTelemetryOptions) {
    const opts = assertOptionsObject(options, 'telemetry');
    assertKnownOptions(opts, KNOWN_OPTIONS, 'telemetry');
    const maxRoutes = opts.maxRoutes === undefined ? 1000 : positiveInteger(opts.maxRoutes, 'maxRoutes');
    if (opts.logger !== undefined && !isLogger(opts.logger)) {
      throw new InvalidOptionError('logger', opts.logger, 'accepted: an object with info, warn and error methods');
    }
    this.logger = (opts.logger as Logger | undefined) ?? consoleLogger;
    this.routes = new BoundedValues(maxRoutes);
    this.failures = new FailureLog(this.logger);
    // Both optional peers are needed, and a missing one is reported now, as the app is built,
    // never on a request. Server telemetry exists from here: its duration family appears.
    this.api = otelApi('telemetry()');
    if (httpServerDuration() === undefined) promClient('telemetry()');
    this.inertSpan = this.api.trace.wrapSpanContext(this.api.INVALID_SPAN_CONTEXT);
  }

  /**
   * Starts the server span of one request (continuing an incoming `traceparent`) and its timer.
   * `describe` is called only when a span is made: without a tracer provider (metrics only),
   * the request's address, user agent and so on are never read.
   */
  start(method: string, describe: () => HttpRequestInfo): RequestTelemetry {
    const startedAt = performance.now();
    const { context, propagation, trace, SpanKind } = this.api;
    const active = context.active();
    let normalized = OTHER_METHOD;
    try {
      normalized = normalizeMethod(method);
      const existing = trace.getSpan(active);
      if (existing !== undefined && isRecordingServerSpan(existing, SpanKind.SERVER)) {
        // A telemetry() nested in another (app and router level) must not count the request twice.
        const observes = !madeByTollgate(existing);
        return new ServerRequest(this, existing, active, normalized, startedAt, false, observes);
      }
      const tracer = tracerIfTracing();
      if (tracer === undefined) {
        return new ServerRequest(this, this.inertSpan, active, normalized, startedAt, false, true);
      }
      const info = describe();
      const parent = propagation.extract(active, info, headerGetter);
      const span = tracer.startSpan(
        serverSpanName(normalized, undefined),
        { kind: SpanKind.SERVER, attributes: requestAttributes(info, normalized) },
        parent,
      );
      return new ServerRequest(this, span, trace.setSpan(parent, span), normalized, startedAt, true, true);
    } catch (error) {
      this.failures.report('start', error);
      return new ServerRequest(this, this.inertSpan, active, normalized, startedAt, false, true);
    }
  }

  /** @internal The API, for the requests it starts. */
  otel(): OtelApi {
    return this.api;
  }

  /** @internal */
  reportFailure(where: string, error: unknown): void {
    this.failures.report(where, error);
  }

  /** @internal The `http_route` label value: the template while under the cap. */
  routeLabel(route: string | undefined): string {
    if (route === undefined) return UNMATCHED_ROUTE;
    const label = this.routes.label(route);
    if (label !== route && !this.overflowLogged) {
      this.overflowLogged = true;
      this.logger.warn(
        { maxRoutes: this.routes.max },
        'telemetry: more distinct routes than maxRoutes; further ones are counted as http_route="_OVERFLOW"',
      );
    }
    return label;
  }
}

class ServerRequest implements RequestTelemetry {
  private route: string | undefined;
  private ended = false;

  constructor(
    private readonly owner: HttpServerTelemetry,
    readonly span: Span,
    readonly context: Context,
    private readonly method: string,
    private readonly startedAt: number,
    /** Whether tollgate made the span, and so sets its status and ends it. */
    private readonly owned: boolean,
    /** Whether this request's duration is observed here (not by an enclosing telemetry()). */
    private readonly observes: boolean,
  ) {}

  run<T>(fn: () => T): T {
    // Entering the context already active would only cost an AsyncLocalStorage run.
    const { context } = this.owner.otel();
    return context.active() === this.context ? fn() : context.with(this.context, fn);
  }

  setRoute(route: string | undefined): void {
    if (this.ended || typeof route !== 'string' || route === '') return;
    try {
      this.route = route;
      this.span.setAttribute(ATTR_HTTP_ROUTE, route);
      this.span.updateName(serverSpanName(this.method, route));
    } catch (error) {
      this.owner.reportFailure('setRoute', error);
    }
  }

  end(statusCode: number, error?: unknown): void {
    if (this.ended) return;
    this.ended = true;
    const seconds = (performance.now() - this.startedAt) / 1000;
    const thrown = error !== undefined;
    const type = thrown ? errorType(error) : statusCode >= 500 ? String(statusCode) : undefined;
    try {
      if (this.owned) this.finishSpan(statusCode, thrown, error, type);
    } catch (failure) {
      this.owner.reportFailure('end span', failure);
    }
    try {
      if (this.observes) this.observe(statusCode, type, seconds);
    } catch (failure) {
      this.owner.reportFailure('observe duration', failure);
    }
  }

  private finishSpan(statusCode: number, thrown: boolean, error: unknown, type: string | undefined): void {
    const { span } = this;
    const { SpanStatusCode } = this.owner.otel();
    if (isStatusCode(statusCode)) span.setAttribute(ATTR_HTTP_RESPONSE_STATUS_CODE, statusCode);
    if (thrown) span.recordException(asException(error));
    if (type !== undefined) {
      span.setAttribute(ATTR_ERROR_TYPE, type);
      // 1xx-4xx leave the status unset: a 404 is the server working, not failing.
      span.setStatus(
        thrown && error instanceof Error && error.message
          ? { code: SpanStatusCode.ERROR, message: error.message }
          : { code: SpanStatusCode.ERROR },
      );
    }
    span.end();
  }

  private observe(statusCode: number, type: string | undefined, seconds: number): void {
    const labels: Partial<Record<HttpDurationLabel, string>> = {
      http_request_method: this.method,
      http_route: this.owner.routeLabel(this.route),
    };
    if (isStatusCode(statusCode)) labels.http_response_status_code = String(statusCode);
    if (type !== undefined) labels.error_type = type;
    const exemplarLabels = exemplarFor(this.span.spanContext());
    httpServerDuration()?.observe(
      exemplarLabels === undefined ? { labels, value: seconds } : { labels, value: seconds, exemplarLabels },
    );
  }
}

function requestAttributes(info: HttpRequestInfo, method: string): Attributes {
  const attributes: Attributes = {
    [ATTR_HTTP_REQUEST_METHOD]: method,
    [ATTR_URL_PATH]: stripQuery(info.path),
    [ATTR_URL_SCHEME]: info.scheme,
  };
  if (method !== info.method) attributes[ATTR_HTTP_REQUEST_METHOD_ORIGINAL] = info.method;
  if (info.serverAddress) attributes[ATTR_SERVER_ADDRESS] = info.serverAddress;
  if (info.serverPort !== undefined) attributes[ATTR_SERVER_PORT] = info.serverPort;
  // Under trust proxy the address comes from a header a client may fill with anything.
  if (info.clientAddress && isIP(info.clientAddress) !== 0) attributes[ATTR_CLIENT_ADDRESS] = info.clientAddress;
  if (info.userAgent) attributes[ATTR_USER_AGENT_ORIGINAL] = info.userAgent;
  if (info.protocolVersion) attributes[ATTR_NETWORK_PROTOCOL_VERSION] = info.protocolVersion;
  return attributes;
}

function stripQuery(path: string): string {
  const cut = path.search(/[?#]/);
  return cut === -1 ? path : path.slice(0, cut);
}

function isStatusCode(value: number): boolean {
  return Number.isInteger(value) && value >= 100 && value <= 599;
}

/**
 * Whether the active span is the server span of this very request, made by OpenTelemetry's HTTP
 * instrumentation (or another server instrumentation). The API hides a span's kind; the SDK's
 * spans expose it as `kind`, and a span that is not recording has nothing to enrich.
 */
function isRecordingServerSpan(span: Span, server: number): boolean {
  return (span as Span & { kind?: unknown }).kind === server && span.isRecording();
}

function madeByTollgate(span: Span): boolean {
  return (span as Span & { instrumentationScope?: { name?: unknown } }).instrumentationScope?.name === TRACER_NAME;
}
