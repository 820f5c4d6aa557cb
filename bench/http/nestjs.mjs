// NestJS 11 servers (on @nestjs/platform-express, Nest's default): bare, and bare plus one
// contender. A contender is what the app module imports and provides; decorators are applied
// with Reflect.decorate, as TypeScript compiles them.
import { HELLO, limits, redisClient, requireRoot, setupOtel, setupTollgateTracing } from './common.mjs';

/** Contender name -> the module metadata it adds: { imports, providers }. */
const CONTENDERS = {
  bare: () => ({}),

  async 'tollgate-memory'({ limited }) {
    const { RateLimitGuard, TollgateModule } = await import('@tollgate/nestjs');
    const { max } = limits(limited);
    return guarded(RateLimitGuard, TollgateModule.forRoot({ max, window: '1h' }));
  },

  async 'tollgate-redis'({ limited, redisUrl }) {
    const { RateLimitGuard, RedisStore, TollgateModule } = await import('@tollgate/nestjs');
    const { max } = limits(limited);
    const store = new RedisStore({ client: await redisClient(redisUrl) });
    return guarded(RateLimitGuard, TollgateModule.forRoot({ max, window: '1h', store }));
  },

  // @nestjs/throttler as its README wires it: one throttler, its guard as APP_GUARD.
  async 'nestjs-throttler-memory'({ limited }) {
    const { ThrottlerGuard, ThrottlerModule } = await import('@nestjs/throttler');
    const { max, windowMs } = limits(limited);
    return guarded(ThrottlerGuard, ThrottlerModule.forRoot([{ ttl: windowMs, limit: max }]));
  },

  async 'tollgate-telemetry'(_ctx, stats) {
    await setupTollgateTracing(stats);
    const { TollgateModule } = await import('@tollgate/nestjs');
    return { imports: [TollgateModule.forRoot({ telemetry: true })] };
  },

  async 'tollgate-metrics'() {
    const { TollgateModule } = await import('@tollgate/nestjs');
    return { imports: [TollgateModule.forRoot({ telemetry: true })] };
  },

  otel: () => ({}),
};

function guarded(guard, module) {
  const { APP_GUARD } = requireRoot('@nestjs/core');
  return { imports: [module], providers: [{ provide: APP_GUARD, useClass: guard }] };
}

export const contenders = Object.keys(CONTENDERS);

export async function build(name, ctx, stats) {
  if (name === 'otel') {
    // Instrumentations patch require('express') and require('http'): set up before Nest loads either.
    await setupOtel(stats, async () => {
      const { HttpInstrumentation } = await import('@opentelemetry/instrumentation-http');
      const { ExpressInstrumentation } = await import('@opentelemetry/instrumentation-express');
      return [new HttpInstrumentation(), new ExpressInstrumentation()];
    });
  }
  requireRoot('reflect-metadata');
  const { Controller, Get, Module } = requireRoot('@nestjs/common');
  const { NestFactory } = requireRoot('@nestjs/core');
  const { imports = [], providers = [] } = await CONTENDERS[name](ctx, stats);

  class HelloController {
    hello() {
      return HELLO;
    }
  }
  const hello = Object.getOwnPropertyDescriptor(HelloController.prototype, 'hello');
  Reflect.decorate([Get('hello')], HelloController.prototype, 'hello', hello);
  Reflect.decorate([Controller()], HelloController);
  class BenchModule {}
  Reflect.decorate([Module({ imports, controllers: [HelloController], providers })], BenchModule);

  const app = await NestFactory.create(BenchModule, { logger: false });
  if (ctx.limited) app.set('trust proxy', 'loopback');
  return {
    listen: async () => {
      await app.listen(0, '127.0.0.1');
      return app.getHttpServer();
    },
  };
}
