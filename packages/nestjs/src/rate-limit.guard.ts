import type { ServerResponse } from 'node:http';
import { type CanActivate, type ExecutionContext, Inject, Injectable } from '@nestjs/common';
import { HttpAdapterHost } from '@nestjs/core';
import type { HttpRateLimiter, Outcome } from '@tollgate/core/adapter';
import { TollgateLimits } from './limits.js';
import { nodeResponse, type PlatformRequest, responses } from './platform-request.js';
import { RateLimitRefusedException } from './refused-exception.js';

type Limiter = HttpRateLimiter<PlatformRequest, never>;

/**
 * Applies the limits of each route: the app-wide limit of `TollgateModule.forRoot()`, then the
 * controller's and the handler's `@RateLimit()`, each setting its RateLimit header fields. Over a
 * limit it throws `RateLimitRefusedException` (429, Retry-After, problem+json) and the handler
 * does not run. Works on @nestjs/platform-express and @nestjs/platform-fastify alike: headers go
 * through the platform's HTTP adapter. Requests of other contexts (microservices, WebSockets)
 * pass untouched.
 *
 * @example
 * // every route of the app:
 * providers: [{ provide: APP_GUARD, useClass: RateLimitGuard }]
 * // or some controllers only:
 * \@UseGuards(RateLimitGuard)
 */
export class RateLimitGuard implements CanActivate {
  constructor(
    private readonly limits: TollgateLimits,
    private readonly adapterHost: HttpAdapterHost,
  ) {}

  canActivate(context: ExecutionContext): boolean | Promise<boolean> {
    if (context.getType() !== 'http') return true;
    const limiters = this.limits.of(context.getClass(), context.getHandler());
    if (limiters.length === 0) return true;
    const http = context.switchToHttp();
    const request = http.getRequest<PlatformRequest>();
    const response = http.getResponse<object>();
    // Only for limiters that watch the response: a WeakMap entry per request costs the GC.
    if (limiters.some((limiter) => limiter.watchesResponses)) responses.set(request, nodeResponse(response));
    return this.decide(limiters, 0, request, response);
  }

  /**
   * The limits in order, each deciding only if the ones before let the request through.
   * Synchronous while every decision is (the memory store): no promise for the common request.
   */
  private decide(
    limiters: readonly Limiter[],
    from: number,
    request: PlatformRequest,
    response: unknown,
  ): boolean | Promise<boolean> {
    for (let i = from; i < limiters.length; i++) {
      const outcome = (limiters[i] as Limiter).handle(request);
      if (outcome instanceof Promise) {
        return outcome.then((o) => {
          this.apply(o, response);
          return this.decide(limiters, i + 1, request, response);
        });
      }
      this.apply(outcome, response);
    }
    return true;
  }

  private apply(outcome: Outcome, response: unknown): void {
    const adapter = this.adapterHost.httpAdapter;
    for (const [name, value] of outcome.headers) adapter.setHeader(response, name, value);
    if (outcome.action === 'next') return;
    if (adapter.getType() === 'express') {
      // Nest's Express adapter replaces a string Content-Type other than application/json on an
      // error body (with a warning); one given as a list is left alone, and Express's res.json()
      // keeps it. Node sends a one-item list as the one header line.
      (response as ServerResponse).setHeader('Content-Type', [outcome.contentType]);
    } else {
      adapter.setHeader(response, 'Content-Type', outcome.contentType);
    }
    throw new RateLimitRefusedException(outcome);
  }
}

Injectable()(RateLimitGuard);
Inject(TollgateLimits)(RateLimitGuard, undefined, 0);
Inject(HttpAdapterHost)(RateLimitGuard, undefined, 1);
