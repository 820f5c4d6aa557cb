import type { INestApplication, Type } from '@nestjs/common';
import { Module } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { ExpressAdapter } from '@nestjs/platform-express';
import { FastifyAdapter } from '@nestjs/platform-fastify';

/** The two HTTP platforms every Nest test runs on. */
export const platforms = ['express', 'fastify'] as const;
export type Platform = (typeof platforms)[number];

/**
 * Applies decorators to a class and its methods as TypeScript's `experimentalDecorators` would:
 * the tests are type-checked with the repo's settings, which do not enable them, so they write
 * `decorate(Class, { method: [Get('/'), RateLimit(...)] }, [Controller('x')])` for
 * `@Controller('x') class { @Get('/') @RateLimit(...) method() {} }`. Applied bottom-up.
 */
export function decorate<T extends Type>(
  target: T,
  methods: Record<string, Array<MethodDecorator | ((target: object, key: string, index: number) => void)>> = {},
  classDecorators: ClassDecorator[] = [],
): T {
  for (const [name, decorators] of Object.entries(methods)) {
    const proto = target.prototype as object;
    const descriptor = Object.getOwnPropertyDescriptor(proto, name) as PropertyDescriptor;
    for (const decorator of [...decorators].reverse()) {
      // A parameter decorator takes an index where a method decorator takes the descriptor.
      (decorator as (t: object, k: string, d: unknown) => void)(proto, name, descriptor);
    }
  }
  for (const decorator of [...classDecorators].reverse()) decorator(target);
  return target;
}

/** Marks a parameter as `@Req()` or `@Res()` would: the decorator with the parameter's index. */
export function param(decorator: ParameterDecorator, index: number) {
  return (target: object, key: string) => decorator(target, key, index);
}

export interface Started {
  app: INestApplication;
  url: string;
  close(): Promise<void>;
}

const started: Started[] = [];

/** Closes every app `startNest` started: call it from an afterEach. */
export async function closeNestApps(): Promise<void> {
  await Promise.all(started.splice(0).map((s) => s.close()));
}

/**
 * A real Nest app on the given platform, listening on loopback. `trustProxy` is set the way each
 * platform's users set it: Express's `trust proxy` setting, Fastify's `trustProxy` option.
 */
export async function startNest(
  platform: Platform,
  metadata: { imports?: unknown[]; controllers?: Type[]; providers?: unknown[] },
  options: { trustProxy?: boolean } = {},
): Promise<Started> {
  class TestAppModule {}
  Module(metadata as never)(TestAppModule);
  const adapter =
    platform === 'express' ? new ExpressAdapter() : new FastifyAdapter({ trustProxy: options.trustProxy === true });
  const app = await NestFactory.create(TestAppModule, adapter, { logger: false, abortOnError: false });
  if (platform === 'express' && options.trustProxy) app.getHttpAdapter().getInstance().set('trust proxy', true);
  try {
    await app.listen(0, '127.0.0.1');
  } catch (error) {
    await app.close().catch(() => {});
    throw error;
  }
  const address = app.getHttpServer().address() as { port: number };
  const served: Started = {
    app,
    url: `http://127.0.0.1:${address.port}`,
    close: async () => {
      started.splice(started.indexOf(served) >>> 0, 1);
      app.getHttpServer().closeAllConnections?.();
      await app.close();
    },
  };
  started.push(served);
  return served;
}
