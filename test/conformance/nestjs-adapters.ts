import { Controller, Get, type Type } from '@nestjs/common';
import { APP_GUARD } from '@nestjs/core';
import { RateLimit, RateLimitGuard, TollgateModule } from '@tollgate/nestjs';
import { decorate, type Platform, platforms, startNest } from '../nestjs/support.js';
import type { Adapter } from './adapters.js';

/**
 * NestJS, on each of its two HTTP platforms, for every scenario on every store. Run beside the
 * frameworks of frameworks.json until its entry there lands with the consumers that build it
 * (issue 17); then the platform-express app moves into adapters.ts as `nestjs`.
 */
export const nestAdapters: Adapter[] = platforms.map((platform) => ({
  name: `nestjs (platform-${platform})`,
  serve: nestApp(platform),
}));

/**
 * The Nest app: the app-wide limit from `TollgateModule.forRoot`, applied by the global guard;
 * `apiLimit` as a `@RateLimit()` on the /api controller (one limit for its routes).
 */
function nestApp(platform: Platform): Adapter['serve'] {
  return async ({ limit, apiLimit, trustProxy }) => {
    let hits = 0;
    const ok = () => {
      hits += 1;
      return { ok: true };
    };
    class RootController {
      root() {
        return ok();
      }
    }
    class ApiController {
      x() {
        return ok();
      }
    }
    decorate(RootController, { root: [Get()] }, [Controller()]);
    decorate(ApiController, { x: [Get('x')] }, [
      Controller('api'),
      ...(apiLimit ? [RateLimit(apiLimit as never)] : []),
    ]);
    const started = await startNest(
      platform,
      {
        imports: [TollgateModule.forRoot(limit as never)],
        controllers: [RootController, ApiController] as Type[],
        providers: [{ provide: APP_GUARD, useClass: RateLimitGuard }],
      },
      { trustProxy: trustProxy === true },
    );
    return { url: started.url, hits: () => hits, close: started.close };
  };
}
