import {
  type DynamicModule,
  Inject,
  type InjectionToken,
  type MiddlewareConsumer,
  Module,
  type ModuleMetadata,
  type NestModule,
  type OptionalFactoryDependency,
  type Provider,
} from '@nestjs/common';
import { DiscoveryModule, HttpAdapterHost } from '@nestjs/core';
import { TollgateLimits } from './limits.js';
import { parseModuleOptions, type TollgateConfig, type TollgateModuleOptions } from './options.js';
import { RateLimitGuard } from './rate-limit.guard.js';
import { installTelemetry } from './telemetry.js';
import { TOLLGATE_CONFIG } from './tokens.js';

/** `TollgateModule.forRootAsync()` options: the module options from a factory, with its dependencies. */
export interface TollgateModuleAsyncOptions extends Pick<ModuleMetadata, 'imports'> {
  /** Returns the module options (`TollgateModuleOptions`), for example with a store built from the app's config. */
  // biome-ignore lint/suspicious/noExplicitAny: Nest's own factory type; the arguments are what `inject` lists.
  useFactory: (...args: any[]) => TollgateModuleOptions | Promise<TollgateModuleOptions>;
  /** The providers whose instances `useFactory` receives, in order. */
  inject?: Array<InjectionToken | OptionalFactoryDependency>;
}

/**
 * tollgate in a Nest app: the limits (`forRoot` options and every `@RateLimit()`), the guard
 * that applies them, and, with `telemetry`, a span and a duration metric per request. A global module: import it once, in the root module;
 * then register `RateLimitGuard` as APP_GUARD, or with `@UseGuards()` where it should apply.
 *
 * @example
 * \@Module({
 *   imports: [TollgateModule.forRoot({ max: 100, window: '1m', store: new RedisStore({ client }), telemetry: true })],
 *   providers: [{ provide: APP_GUARD, useClass: RateLimitGuard }],
 * })
 * export class AppModule {}
 */
export class TollgateModule implements NestModule {
  constructor(
    private readonly config: TollgateConfig,
    private readonly adapterHost: HttpAdapterHost,
  ) {}

  /** Runs as the app initialises, before Nest registers its routes: where telemetry goes in first. */
  configure(_consumer: MiddlewareConsumer): void {
    const { telemetry } = this.config;
    const adapter = this.adapterHost.httpAdapter;
    // No HTTP adapter: a standalone application context or a microservice, with nothing to measure.
    if (telemetry !== undefined && adapter !== undefined) installTelemetry(adapter, telemetry);
  }

  /**
   * The module with options given now; they are checked at once, so a bad option throws here,
   * with the same coded error as in every tollgate adapter.
   */
  static forRoot(options: TollgateModuleOptions = {}): DynamicModule {
    const config = parseModuleOptions(options);
    return TollgateModule.with({ provide: TOLLGATE_CONFIG, useValue: config }, []);
  }

  /** The module with options from a factory (a store from the app's config service, say); checked as the app is built. */
  static forRootAsync(options: TollgateModuleAsyncOptions): DynamicModule {
    if (typeof options?.useFactory !== 'function') {
      throw new TypeError('TollgateModule.forRootAsync: `useFactory` must be a function returning the module options');
    }
    const { useFactory, inject = [], imports = [] } = options;
    return TollgateModule.with(
      {
        provide: TOLLGATE_CONFIG,
        // biome-ignore lint/suspicious/noExplicitAny: the factory's own arguments, as Nest resolves `inject`.
        useFactory: async (...args: any[]) => parseModuleOptions(await useFactory(...args)),
        inject,
      },
      imports,
    );
  }

  private static with(config: Provider, imports: NonNullable<ModuleMetadata['imports']>): DynamicModule {
    return {
      module: TollgateModule,
      global: true,
      imports: [DiscoveryModule, ...imports],
      providers: [config, TollgateLimits, RateLimitGuard],
      exports: [TOLLGATE_CONFIG, TollgateLimits, RateLimitGuard],
    };
  }
}

Module({})(TollgateModule);
Inject(TOLLGATE_CONFIG)(TollgateModule, undefined, 0);
Inject(HttpAdapterHost)(TollgateModule, undefined, 1);
