import { Inject, Injectable, type OnModuleInit } from '@nestjs/common';
import { DiscoveryService, MetadataScanner } from '@nestjs/core';
import { InvalidOptionError } from '@tollgate/core';
import { HttpRateLimiter, type HttpRateLimitOptions } from '@tollgate/core/adapter';
import { type DeclaredLimit, declaredLimits, declaredSkip } from './decorators.js';
import { declaredAt, limiterName, policyName } from './limit-name.js';
import { rejectHandler, type TollgateConfig } from './options.js';
import { type PlatformRequest, reader } from './platform-request.js';
import { TOLLGATE_CONFIG } from './tokens.js';

type Limiter = HttpRateLimiter<PlatformRequest, never>;
// biome-ignore lint/complexity/noBannedTypes: a controller class or a handler, as Nest's ExecutionContext types them.
type Target = Function;

const NONE: readonly Limiter[] = Object.freeze([]);

/**
 * Every limit of the app, built once: the app-wide one from `TollgateModule.forRoot()` and one
 * per `@RateLimit()`. At bootstrap it walks every controller, so a bad `@RateLimit()` fails the
 * app's start, never a request; the guard then only looks up the limits of a route.
 */
export class TollgateLimits implements OnModuleInit {
  /** The limits of a route, by controller class and handler, in the order they decide. */
  private readonly routes = new WeakMap<Target, WeakMap<Target, readonly Limiter[]>>();
  /** One limiter per `@RateLimit()` and controller class (a base controller's limit is per subclass). */
  private readonly built = new WeakMap<DeclaredLimit, WeakMap<Target, Limiter>>();
  /**
   * Default names in use, and by which limit on which controller: two controllers of one class
   * name (in two modules) must never fold into one bucket.
   */
  private readonly names = new Map<string, { declared: DeclaredLimit; controller: Target }>();

  constructor(
    private readonly config: TollgateConfig,
    private readonly discovery: DiscoveryService,
    private readonly scanner: MetadataScanner,
  ) {}

  onModuleInit(): void {
    for (const wrapper of this.discovery.getControllers()) {
      const controller = wrapper.metatype as Target | null | undefined;
      if (typeof controller !== 'function') continue;
      const proto = controller.prototype as Record<string, unknown>;
      for (const method of this.scanner.getAllMethodNames(proto)) {
        const handler = proto[method];
        if (typeof handler === 'function') this.of(controller, handler);
      }
    }
  }

  /** The limits that decide a request to `handler` of `controller`, in order: app-wide, controller, handler. */
  of(controller: Target, handler: Target): readonly Limiter[] {
    let byHandler = this.routes.get(controller);
    if (byHandler === undefined) {
      byHandler = new WeakMap();
      this.routes.set(controller, byHandler);
    }
    let limiters = byHandler.get(handler);
    if (limiters === undefined) {
      limiters = this.build(controller, handler);
      byHandler.set(handler, limiters);
    }
    return limiters;
  }

  private build(controller: Target, handler: Target): readonly Limiter[] {
    const handlerSkip = declaredSkip(handler);
    const skipApp = handlerSkip === true || (handlerSkip === undefined && declaredSkip(controller) === true);
    const skipController = handlerSkip === true;
    const limiters: Limiter[] = [];
    if (!skipApp && this.config.app !== undefined) limiters.push(this.config.app);
    if (!skipController) {
      declaredLimits(controller).forEach((d, i) => {
        limiters.push(this.limiter(d, controller, declaredAt(controller.name, undefined, i)));
      });
    }
    declaredLimits(handler).forEach((d, i) => {
      limiters.push(this.limiter(d, controller, declaredAt(controller.name, handler.name, i)));
    });
    return limiters.length === 0 ? NONE : Object.freeze(limiters);
  }

  private limiter(declared: DeclaredLimit, controller: Target, at: string): Limiter {
    let byController = this.built.get(declared);
    if (byController === undefined) {
      byController = new WeakMap();
      this.built.set(declared, byController);
    }
    let limiter = byController.get(controller);
    if (limiter === undefined) {
      limiter = this.make(declared, controller, at);
      byController.set(controller, limiter);
    }
    return limiter;
  }

  private make(declared: DeclaredLimit, controller: Target, at: string): Limiter {
    const own = Object.assign(Object.create(null) as Record<string, unknown>, declared.options);
    rejectHandler(own);
    const options: Record<string, unknown> = { ...this.config.defaults, ...own };
    if (own.name !== undefined) return new HttpRateLimiter(options as never as Options, reader);
    const name = limiterName(at);
    const seen = this.names.get(name);
    if (seen !== undefined && (seen.declared !== declared || seen.controller !== controller)) {
      throw new InvalidOptionError(
        'name',
        undefined,
        `two @RateLimit() limits are both ${at} (two controllers of one class name?), and would share buckets under one default name: give them a \`name\` each`,
      );
    }
    this.names.set(name, { declared, controller });
    return new HttpRateLimiter({ ...options, name } as never as Options, reader, { policyName: policyName(at) });
  }
}

type Options = HttpRateLimitOptions<PlatformRequest, never>;

// No decorator syntax in this package's sources: the dist must not depend on a build tool's
// decorator transform or on emitDecoratorMetadata, so the dependencies are declared by token.
Injectable()(TollgateLimits);
Inject(TOLLGATE_CONFIG)(TollgateLimits, undefined, 0);
Inject(DiscoveryService)(TollgateLimits, undefined, 1);
Inject(MetadataScanner)(TollgateLimits, undefined, 2);
