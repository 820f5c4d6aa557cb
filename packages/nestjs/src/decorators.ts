import type { RateLimitOptions } from './options.js';
import type { PlatformRequest } from './platform-request.js';

/** One `@RateLimit()` as written: its options, and where it sits (for its default name). */
export interface DeclaredLimit {
  readonly options: RateLimitOptions<object>;
}

// Registered symbols: the ESM and the CommonJS build of the package must read each other's marks.
const LIMITS: unique symbol = Symbol.for('tollgate.nestjs.limits') as never;
const SKIP: unique symbol = Symbol.for('tollgate.nestjs.skip') as never;

type Marked = { [LIMITS]?: readonly DeclaredLimit[]; [SKIP]?: boolean };

/** The function a method decorator marks: the handler, as `ExecutionContext.getHandler()` returns it. */
function markable(target: object, descriptor: PropertyDescriptor | undefined): Marked {
  return (descriptor === undefined ? target : descriptor.value) as Marked;
}

/**
 * Adds a limit to a controller (one limit shared by all its routes) or to a route handler (that
 * route's own). Limits stack: the app-wide limit of `TollgateModule.forRoot()`, the controller's,
 * then the handler's, each deciding and each reported in the RateLimit headers. Several
 * `@RateLimit()` on one target are several limits (say one per IP and one per token); one with
 * `policies` is several windows of one limit, decided all-or-nothing. Options left out (the store,
 * `key`, `headers`, `failMode`, ...) come from `TollgateModule.forRoot()`. Without a `name`, a limit
 * is named after its controller and handler, the same in every instance of the app, so a fleet
 * shares its buckets. Checked when the app starts: a bad option fails the bootstrap.
 *
 * @example
 * \@Controller('auth')
 * export class AuthController {
 *   \@Post('login')
 *   \@RateLimit({ max: 5, window: '15m' })
 *   login() {}
 * }
 */
export function RateLimit<Req extends object = PlatformRequest>(
  options: RateLimitOptions<Req>,
): ClassDecorator & MethodDecorator {
  return (target: object, _key?: string | symbol, descriptor?: PropertyDescriptor) => {
    const marked = markable(target, descriptor);
    const own = Object.hasOwn(marked, LIMITS) ? (marked[LIMITS] as readonly DeclaredLimit[]) : [];
    // Decorators apply bottom-up: prepending keeps the limits in the order they are written.
    const declared: DeclaredLimit = Object.freeze({ options: options as RateLimitOptions<object> });
    Object.defineProperty(marked, LIMITS, { value: Object.freeze([declared, ...own]), configurable: true });
  };
}

/**
 * Exempts a handler or a controller from the limits declared above it: on a handler, from the
 * app-wide limit and its controller's; on a controller, from the app-wide limit. A limit declared
 * on the same target or below still applies, so `@SkipRateLimit()` with `@RateLimit({...})` on a
 * handler replaces the limits above with its own. `@SkipRateLimit(false)` on a handler undoes its
 * controller's `@SkipRateLimit()`.
 *
 * @example
 * \@Get('health')
 * \@SkipRateLimit()
 * health() { return 'ok'; }
 */
export function SkipRateLimit(skip = true): ClassDecorator & MethodDecorator {
  if (typeof skip !== 'boolean') throw new TypeError('SkipRateLimit(skip): skip must be true or false');
  return (target: object, _key?: string | symbol, descriptor?: PropertyDescriptor) => {
    Object.defineProperty(markable(target, descriptor), SKIP, { value: skip, configurable: true });
  };
}

/**
 * The limits written on a controller class or a handler, in order. A controller that extends
 * another inherits its marks unless it has its own, as Nest's `Reflector` reads metadata.
 */
export function declaredLimits(target: object): readonly DeclaredLimit[] {
  return (target as Marked)[LIMITS] ?? [];
}

/** The `@SkipRateLimit()` of a controller class or a handler: true, false, or undefined for none. */
export function declaredSkip(target: object): boolean | undefined {
  return (target as Marked)[SKIP];
}
