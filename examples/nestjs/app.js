// A NestJS app limited by tollgate: 10 requests per minute per client IP, on the in-memory
// store, or on Redis when REDIS_URL is set. Run it with `node examples/nestjs/app.js`; it runs
// on @nestjs/platform-express, or on @nestjs/platform-fastify with NEST_PLATFORM=fastify.
//
// Plain JavaScript, so Node runs it as it is: `Reflect.decorate([...], …)` is what TypeScript
// compiles `@Controller()`, `@Get()` and `@Module()` to (the README shows the TypeScript).
import 'reflect-metadata';
import { Controller, Get, Module, Req, Res } from '@nestjs/common';
import { APP_GUARD, NestFactory } from '@nestjs/core';
import { metricsHandler, RateLimitGuard, RedisStore, SkipRateLimit, TollgateModule } from '@tollgate/nestjs';

export const policy = { max: 10, window: '1m', name: 'demo' };

class AppController {
  metrics = metricsHandler();

  hello() {
    return { hello: 'world' };
  }

  scrape(req, res) {
    return this.metrics(req, res);
  }
}
const method = (name) => Object.getOwnPropertyDescriptor(AppController.prototype, name);
Reflect.decorate([Get('hello')], AppController.prototype, 'hello', method('hello'));
Reflect.decorate([Get('metrics'), SkipRateLimit()], AppController.prototype, 'scrape', method('scrape'));
Req()(AppController.prototype, 'scrape', 0);
Res()(AppController.prototype, 'scrape', 1);
Reflect.decorate([Controller()], AppController);

/** Starts the app on `port` (0: any free one); resolves to its URL and a closer. */
export async function start({
  port = 0,
  host = '127.0.0.1',
  redisUrl = process.env.REDIS_URL,
  platform = process.env.NEST_PLATFORM ?? 'express',
} = {}) {
  const store = redisUrl ? new RedisStore({ url: redisUrl }) : undefined;
  class AppModule {}
  Reflect.decorate(
    [
      Module({
        imports: [TollgateModule.forRoot({ ...policy, ...(store ? { store } : {}), telemetry: true })],
        controllers: [AppController],
        providers: [{ provide: APP_GUARD, useClass: RateLimitGuard }],
      }),
    ],
    AppModule,
  );
  const adapter = platform === 'fastify' ? new (await import('@nestjs/platform-fastify')).FastifyAdapter() : undefined;
  const app = adapter
    ? await NestFactory.create(AppModule, adapter, { logger: ['error'] })
    : await NestFactory.create(AppModule, { logger: ['error'] });
  await app.listen(port, host);
  return {
    url: `http://${host}:${app.getHttpServer().address().port}/hello`,
    store,
    close: async () => {
      await app.close();
      await store?.close();
    },
  };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const { url } = await start({ port: Number(process.env.PORT ?? 3000), host: '0.0.0.0' });
  console.log(`listening on ${url}`);
}
