import { InvalidOptionError } from '@tollgate/core';
import {
  assertOptionsObject,
  HttpRateLimiter,
  type HttpRateLimitOptions,
  HttpServerTelemetry,
  type HttpServerTelemetryOptions,
} from '@tollgate/core/adapter';
import { type PlatformRequest, reader } from './platform-request.js';

/**
 * The options of one limit, in `@RateLimit()` or `TollgateModule.forRoot()`: the `RateLimiter`
 * options (`max`, `window`, `burst` or `policies`, `store`, `name`, `prefix`, `failMode`,
 * `timeoutMs`, `logger`) plus `key`, `cost`, `skip`, `headers`, `ipv6Subnet`. The functions receive
 * the platform's request (Express or Fastify). There is no `handler`: a refusal is thrown as a
 * `RateLimitRefusedException`, which an exception filter of the app can answer its own way.
 */
export type RateLimitOptions<Req extends object = PlatformRequest> = Omit<HttpRateLimitOptions<Req, never>, 'handler'>;

/**
 * `TollgateModule.forRoot()` options. With a policy (`max` and `window`, or `policies`) they are
 * the app-wide limit, which the guard applies to every route it guards; without one there is no
 * app-wide limit. Either way, every option except the policy and `name` is also the default of
 * each `@RateLimit()`: give `store` here once, and every limit of the app uses it.
 */
export type TollgateModuleOptions = Partial<RateLimitOptions> & {
  /**
   * A server span and an `http_server_request_duration_seconds` observation per request, on both
   * platforms (`true`, or `{ maxRoutes, logger }`). Needs `@opentelemetry/api` and `prom-client`.
   */
  telemetry?: boolean | HttpServerTelemetryOptions;
};

/** What the module holds once its options are checked: the guard and the limits read it. */
export interface TollgateConfig {
  /** The app-wide limit, if the options had a policy. */
  readonly app: HttpRateLimiter<PlatformRequest, never> | undefined;
  /** Every option but the policy and the name: what each `@RateLimit()` starts from. */
  readonly defaults: Readonly<Record<string, unknown>>;
  readonly telemetry: HttpServerTelemetry | undefined;
}

const POLICY_FIELDS = ['max', 'window', 'burst', 'policies'] as const;

/** `handler` means "send this response" in the other adapters; in Nest, exception filters do that. */
export function rejectHandler(options: Record<string, unknown>): void {
  if (options.handler !== undefined) {
    throw new InvalidOptionError(
      'handler',
      options.handler,
      '@tollgate/nestjs takes no `handler`: a refusal is thrown as RateLimitRefusedException; answer it your own way with an exception filter (@Catch(RateLimitRefusedException))',
    );
  }
}

/**
 * Checks the module options once, as the module is built: a bad option fails the app's
 * bootstrap with the same coded error every adapter throws, never a request.
 */
export function parseModuleOptions(options: unknown): TollgateConfig {
  const rest = assertOptionsObject(options, 'TollgateModule');
  const telemetryOption = rest.telemetry;
  delete rest.telemetry;
  rejectHandler(rest);
  const hasPolicy = POLICY_FIELDS.some((field) => rest[field] !== undefined);
  const defaults: Record<string, unknown> = { ...rest };
  for (const field of [...POLICY_FIELDS, 'name']) delete defaults[field];
  let app: HttpRateLimiter<PlatformRequest, never> | undefined;
  if (hasPolicy) {
    app = new HttpRateLimiter(rest as unknown as HttpRateLimitOptions<PlatformRequest, never>, reader);
  } else {
    if (rest.name !== undefined) {
      throw new InvalidOptionError(
        'name',
        rest.name,
        'without a policy (`max` and `window`, or `policies`) there is no app-wide limit to name; name each @RateLimit() instead',
      );
    }
    // No app-wide limit, but the defaults must still be valid: checked with a stand-in policy.
    new HttpRateLimiter({ ...defaults, max: 1, window: '1m' } as HttpRateLimitOptions<PlatformRequest, never>, reader);
  }
  return Object.freeze({
    app,
    defaults: Object.freeze(defaults),
    telemetry: parseTelemetry(telemetryOption),
  });
}

function parseTelemetry(value: unknown): HttpServerTelemetry | undefined {
  if (value === undefined || value === false) return undefined;
  if (value === true) return new HttpServerTelemetry();
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new InvalidOptionError('telemetry', value, 'accepted: true, false, or { maxRoutes, logger }');
  }
  return new HttpServerTelemetry(value as HttpServerTelemetryOptions);
}
