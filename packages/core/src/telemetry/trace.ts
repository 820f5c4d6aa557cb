import type { Attributes, Span } from '@opentelemetry/api';
import { ErrorCodes, InvalidOptionError, TollgateError } from '../errors.js';
import { asException, errorType } from './error-type.js';
import { otelApi } from './peers.js';
import { ATTR_ERROR_TYPE } from './semconv.js';
import { tollgateTracer } from './tracer.js';

/** Named in the error thrown when `@opentelemetry/api` is not installed. */
const FEATURE = 'tracing (traceSpan, traceOperation)';

/**
 * Runs `fn` in a new active span named `name`, so spans started inside it are its children, and
 * ends the span when `fn` returns or, if it returns a promise, when that settles. A throw or
 * rejection is recorded on the span (exception event, `error.type`, status ERROR) and rethrown;
 * success leaves the status unset, as OpenTelemetry intends for instrumentation. Without
 * `setupTelemetry` (or another SDK) the span is a no-op and `fn` simply runs.
 *
 * @example
 * const user = await traceSpan('load user', { 'user.tier': tier }, async () => db.users.find(id));
 */
export function traceSpan<T>(name: string, attributes: Attributes | undefined, fn: (span: Span) => T): T {
  if (typeof name !== 'string' || name === '') {
    throw new InvalidOptionError('name', name, 'traceSpan: accepted: a non-empty span name');
  }
  if (typeof fn !== 'function') throw new InvalidOptionError('fn', fn, 'traceSpan: accepted: a function');
  const options = attributes === undefined ? {} : { attributes };
  return tollgateTracer(FEATURE).startActiveSpan(name, options, (span) => {
    let result: T;
    try {
      result = fn(span);
    } catch (error) {
      fail(span, error);
      span.end();
      throw error;
    }
    if (!isPromiseLike(result)) {
      span.end();
      return result;
    }
    return result.then(
      (value) => {
        span.end();
        return value;
      },
      (error: unknown) => {
        fail(span, error);
        span.end();
        throw error;
      },
    ) as T;
  });
}

type Method<This, A extends unknown[], R> = (this: This, ...args: A) => R;

/**
 * Wraps a function so that each call runs in a span named `name` (see `traceSpan`); `this` and
 * the arguments pass through.
 *
 * Called with a name only, it is a method decorator of the TC39 / TypeScript 5 standard kind
 * (not `experimentalDecorators`); the span name defaults to `ClassName.method`.
 *
 * @example
 * const fetchQuote = traceOperation('fetch quote', async (symbol: string) => api.quote(symbol));
 *
 * class Billing {
 *   @traceOperation('billing.charge')
 *   async charge(order: Order) { … }
 * }
 */
export function traceOperation<This, A extends unknown[], R>(name: string, fn: Method<This, A, R>): Method<This, A, R>;
export function traceOperation(
  name?: string,
): <This, A extends unknown[], R>(
  method: Method<This, A, R>,
  context: ClassMethodDecoratorContext<This, Method<This, A, R>>,
) => Method<This, A, R>;
export function traceOperation(name?: unknown, fn?: unknown): unknown {
  if (name !== undefined && (typeof name !== 'string' || name === '')) {
    throw new InvalidOptionError('name', name, 'traceOperation: accepted: a non-empty span name');
  }
  const spanName = name as string | undefined;
  if (fn !== undefined) {
    if (typeof fn !== 'function') throw new InvalidOptionError('fn', fn, 'traceOperation: accepted: a function');
    if (spanName === undefined) throw new InvalidOptionError('name', name, 'traceOperation: accepted: a span name');
    return wrap(() => spanName, fn as Method<unknown, unknown[], unknown>);
  }
  return (method: Method<unknown, unknown[], unknown>, context: ClassMethodDecoratorContext | undefined) => {
    if (context?.kind !== 'method' || typeof method !== 'function') {
      throw new TollgateError(ErrorCodes.INVALID_OPTION, 'tollgate: @traceOperation() decorates class methods only');
    }
    const methodName = String(context.name);
    const isStatic = context.static;
    return wrap((self) => spanName ?? `${className(self, isStatic)}.${methodName}`, method);
  };
}

/** The class a method was called on: `this` itself for a static method, its constructor otherwise. */
function className(self: unknown, isStatic: boolean): string {
  const owner = isStatic ? self : (self as { constructor?: unknown } | undefined)?.constructor;
  const name = (owner as { name?: unknown } | undefined)?.name;
  return typeof name === 'string' && name !== '' ? name : 'anonymous';
}

function wrap<This, A extends unknown[], R>(
  spanName: (self: This) => string,
  fn: Method<This, A, R>,
): Method<This, A, R> {
  return function traced(this: This, ...args: A): R {
    return traceSpan(spanName(this), undefined, () => fn.apply(this, args));
  };
}

function fail(span: Span, error: unknown): void {
  try {
    const { SpanStatusCode } = otelApi(FEATURE);
    span.recordException(asException(error));
    span.setAttribute(ATTR_ERROR_TYPE, errorType(error));
    span.setStatus(
      error instanceof Error && error.message
        ? { code: SpanStatusCode.ERROR, message: error.message }
        : { code: SpanStatusCode.ERROR },
    );
  } catch {
    // The caller's error, not one from describing it, is what must reach the caller.
  }
}

function isPromiseLike(value: unknown): value is PromiseLike<unknown> {
  return (
    (typeof value === 'object' || typeof value === 'function') &&
    value !== null &&
    typeof (value as { then?: unknown }).then === 'function'
  );
}
