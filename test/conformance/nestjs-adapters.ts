import { Controller, Get, Req, type Type } from '@nestjs/common';
import { APP_GUARD } from '@nestjs/core';
import type { RateLimitInfo } from '@tollgate/core';
import { RateLimit, RateLimitGuard, TollgateModule } from '@tollgate/nestjs';
import { decorate, type Platform, param, startNest } from '../nestjs/support.js';

// Structural, as adapters.ts declares them: importing them from there would make an import cycle
// (adapters.ts builds its `nestjs` app from here).
// biome-ignore lint/suspicious/noExplicitAny: options are deliberately untyped here, bad ones included.
type Spec = { limit: Record<string, any>; apiLimit?: Record<string, any>; trustProxy?: boolean };
type Served = { url: string; hits(): number; close(): Promise<void> };
/** adapters.ts's `handlerBody`: what every adapter's route handlers answer. */
type HandlerBody = (
  headers: Record<string, unknown>,
  rateLimit: RateLimitInfo | undefined,
  rateLimits: Readonly<Record<string, RateLimitInfo>> | undefined,
) => Promise<unknown>;

type NestRequest = {
  headers: Record<string, unknown>;
  rateLimit?: RateLimitInfo | null;
  rateLimits?: Record<string, RateLimitInfo> | null;
};

/**
 * The suite's app in NestJS on `platform`: the app-wide limit from `TollgateModule.forRoot`,
 * applied by the global guard; `apiLimit` as a `@RateLimit()` on the /api controller (one limit
 * for its routes, stacked on the app-wide one). The handlers answer `body` of the decisions the
 * guard put on the platform's request (`@Req()`).
 */
export function nestApp(platform: Platform, body: HandlerBody): (spec: Spec) => Promise<Served> {
  return async ({ limit, apiLimit, trustProxy }) => {
    let hits = 0;
    const ok = (req: NestRequest) => {
      hits += 1;
      return body(req.headers, req.rateLimit ?? undefined, req.rateLimits ?? undefined);
    };
    class RootController {
      root(req: NestRequest) {
        return ok(req);
      }
    }
    class ApiController {
      x(req: NestRequest) {
        return ok(req);
      }
    }
    decorate(RootController, { root: [Get(), param(Req(), 0)] }, [Controller()]);
    decorate(ApiController, { x: [Get('x'), param(Req(), 0)] }, [
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
