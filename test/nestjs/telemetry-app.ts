import { Controller, Get, HttpCode, Req, Res } from '@nestjs/common';
import { APP_GUARD } from '@nestjs/core';
import { metricsHandler, RateLimitGuard, SkipRateLimit, TollgateModule } from '@tollgate/nestjs';
import { decorate, type Platform, param, startNest } from './support.js';

/**
 * The telemetry suite's app in NestJS on `platform`: telemetry from the module, the app-wide
 * `limit` through the global guard, GET /users/:id (with `child()` inside), GET /teapot (418),
 * GET /boom (throws), and GET /metrics (exempt from the limit).
 */
export function nestTelemetryApp(
  platform: Platform,
  limit: Record<string, unknown>,
  child: () => unknown,
): () => Promise<{ url: string; close(): Promise<void> }> {
  return async () => {
    class UsersController {
      one() {
        return child();
      }
    }
    class MiscController {
      private readonly metrics = metricsHandler();
      teapot() {
        return 'short and stout';
      }
      boom() {
        throw new Error('boom');
      }
      scrape(req: never, res: never) {
        return this.metrics(req, res);
      }
    }
    decorate(UsersController, { one: [Get(':id')] }, [Controller('users')]);
    decorate(
      MiscController,
      {
        teapot: [Get('teapot'), HttpCode(418)],
        boom: [Get('boom')],
        scrape: [Get('metrics'), SkipRateLimit(), param(Req(), 0), param(Res(), 1)],
      },
      [Controller()],
    );
    const { url, close } = await startNest(platform, {
      imports: [TollgateModule.forRoot({ ...limit, telemetry: true })],
      controllers: [UsersController, MiscController],
      providers: [{ provide: APP_GUARD, useClass: RateLimitGuard }],
    });
    return { url, close };
  };
}
