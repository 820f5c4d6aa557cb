import { type ArgumentsHost, Catch, Controller, type ExceptionFilter, Get, Post, Req, UseGuards } from '@nestjs/common';
import { APP_FILTER, APP_GUARD } from '@nestjs/core';
import { ErrorCodes, MemoryStore, TollgateError } from '@tollgate/core';
import { RateLimit, RateLimitGuard, RateLimitRefusedException, SkipRateLimit, TollgateModule } from '@tollgate/nestjs';
import { afterEach, describe, expect, it } from 'vitest';
import { closeNestApps, decorate, param, platforms, startNest } from './support.js';

afterEach(closeNestApps);

async function get(url: string, init: RequestInit = {}) {
  const res = await fetch(url, init);
  return { status: res.status, headers: res.headers, body: await res.text() };
}

const guard = { provide: APP_GUARD, useClass: RateLimitGuard };

/** GET /items, GET /items/:id, POST /items (limited on its own), GET /items/health (skipped). */
function itemsController(calls: string[]) {
  class ItemsController {
    list() {
      calls.push('list');
      return { items: [] };
    }
    one(req: { params: { id: string } }) {
      calls.push(`one ${req.params.id}`);
      return { id: req.params.id };
    }
    create() {
      calls.push('create');
      return { created: true };
    }
    health() {
      calls.push('health');
      return 'ok';
    }
  }
  return decorate(
    ItemsController,
    {
      list: [Get()],
      one: [Get(':id'), param(Req(), 0)],
      create: [Post(), RateLimit({ max: 1, window: '1m' })],
      health: [Get('health/check'), SkipRateLimit()],
    },
    [Controller('items')],
  );
}

for (const platform of platforms) {
  describe(`@tollgate/nestjs on platform-${platform}`, () => {
    it('the app-wide limit of forRoot: headers on every route, then 429 with problem+json, Retry-After, and no handler', async () => {
      const calls: string[] = [];
      const { url } = await startNest(platform, {
        imports: [TollgateModule.forRoot({ max: 2, window: '1m', store: new MemoryStore() })],
        controllers: [itemsController(calls)],
        providers: [guard],
      });
      const first = await get(`${url}/items`);
      expect(first.status).toBe(200);
      expect(first.headers.get('ratelimit-policy')).toBe('"2-per-1m";q=2;w=60');
      expect(first.headers.get('ratelimit')).toBe('"2-per-1m";r=1;t=30');
      expect((await get(`${url}/items/7`)).status).toBe(200);
      const refused = await get(`${url}/items/8`);
      expect(refused.status).toBe(429);
      expect(refused.headers.get('retry-after')).toBe('30');
      expect(refused.headers.get('content-type')).toMatch(/^application\/problem\+json/);
      expect(refused.headers.get('ratelimit')).toBe('"2-per-1m";r=0;t=60');
      expect(JSON.parse(refused.body)).toMatchObject({
        type: 'https://iana.org/assignments/http-problem-types#quota-exceeded',
        status: 429,
        'violated-policies': ['2-per-1m'],
      });
      expect(calls).toEqual(['list', 'one 7']);
    });

    it("a handler's @RateLimit stacks on the app-wide limit; both are reported, its own is named after it", async () => {
      const calls: string[] = [];
      const { url } = await startNest(platform, {
        imports: [TollgateModule.forRoot({ max: 10, window: '1m' })],
        controllers: [itemsController(calls)],
        providers: [guard],
      });
      const first = await get(`${url}/items`, { method: 'POST' });
      expect(first.status).toBe(201);
      expect(first.headers.get('ratelimit-policy')).toBe('"10-per-1m";q=10;w=60, "ItemsController.create";q=1;w=60');
      const second = await get(`${url}/items`, { method: 'POST' });
      expect(second.status).toBe(429);
      expect(JSON.parse(second.body)['violated-policies']).toEqual(['ItemsController.create']);
      // The app-wide bucket was debited by both; the route's own only by the first.
      expect((await get(`${url}/items`)).headers.get('ratelimit')).toBe('"10-per-1m";r=7;t=18');
      expect(calls).toEqual(['create', 'list']);
    });

    it('@SkipRateLimit(): no limit and no headers for that handler', async () => {
      const calls: string[] = [];
      const { url } = await startNest(platform, {
        imports: [TollgateModule.forRoot({ max: 1, window: '1m' })],
        controllers: [itemsController(calls)],
        providers: [guard],
      });
      for (let i = 0; i < 3; i++) {
        const reply = await get(`${url}/items/health/check`);
        expect(reply.status).toBe(200);
        expect(reply.headers.get('ratelimit')).toBeNull();
      }
      expect((await get(`${url}/items`)).status).toBe(200);
      expect((await get(`${url}/items`)).status).toBe(429);
    });

    it("a controller's limit is one bucket for its routes; @SkipRateLimit() on a controller drops only the app-wide one, and a handler's (false) brings it back", async () => {
      class ReportsController {
        a() {
          return 'a';
        }
        b() {
          return 'b';
        }
        c() {
          return 'c';
        }
      }
      decorate(ReportsController, { a: [Get('a')], b: [Get('b')], c: [Get('c'), SkipRateLimit(false)] }, [
        Controller('reports'),
        SkipRateLimit(),
        RateLimit({ max: 2, window: '1h', name: 'reports' }),
      ]);
      const { url } = await startNest(platform, {
        imports: [TollgateModule.forRoot({ max: 100, window: '1m' })],
        controllers: [ReportsController],
        providers: [guard],
      });
      const a = await get(`${url}/reports/a`);
      expect(a.headers.get('ratelimit-policy')).toBe('"reports";q=2;w=3600');
      expect((await get(`${url}/reports/b`)).status).toBe(200);
      const c = await get(`${url}/reports/c`);
      expect(c.status).toBe(429);
      expect(c.headers.get('ratelimit-policy')).toBe('"100-per-1m";q=100;w=60, "reports";q=2;w=3600');
    });

    it('@SkipRateLimit() with its own @RateLimit on a handler replaces the limits above it', async () => {
      class LoginController {
        login() {
          return 'welcome';
        }
      }
      decorate(LoginController, { login: [Post('login'), SkipRateLimit(), RateLimit({ max: 1, window: '15m' })] }, [
        Controller(),
      ]);
      const { url } = await startNest(platform, {
        imports: [TollgateModule.forRoot({ max: 100, window: '1m' })],
        controllers: [LoginController],
        providers: [guard],
      });
      const first = await get(`${url}/login`, { method: 'POST' });
      expect(first.headers.get('ratelimit-policy')).toBe('"LoginController.login";q=1;w=900');
      expect((await get(`${url}/login`, { method: 'POST' })).status).toBe(429);
    });

    it('several @RateLimit on one handler are several limits; `policies` is one limit of several windows', async () => {
      class SearchController {
        search() {
          return [];
        }
      }
      decorate(
        SearchController,
        {
          search: [
            Get('search'),
            RateLimit({ name: 'search-ip', max: 5, window: '1s' }),
            RateLimit({
              name: 'search-token',
              key: 'token',
              policies: [
                { max: 3, window: '1s' },
                { max: 100, window: '1h' },
              ],
            }),
          ],
        },
        [Controller()],
      );
      const { url } = await startNest(platform, {
        imports: [TollgateModule.forRoot()],
        controllers: [SearchController],
        providers: [guard],
      });
      const reply = await get(`${url}/search`, { headers: { authorization: 'Bearer t0ken-AAAAAAAAAAAA' } });
      expect(reply.headers.get('ratelimit-policy')).toBe(
        '"search-ip";q=5;w=1, "search-token.3-per-1s";q=3;w=1, "search-token.100-per-1h";q=100;w=3600',
      );
    });

    it('@UseGuards(RateLimitGuard) limits only the controllers it is on', async () => {
      class Guarded {
        x() {
          return 'x';
        }
      }
      class Open {
        y() {
          return 'y';
        }
      }
      decorate(Guarded, { x: [Get('guarded')] }, [Controller(), UseGuards(RateLimitGuard)]);
      decorate(Open, { y: [Get('open'), RateLimit({ max: 1, window: '1m' })] }, [Controller()]);
      const { url } = await startNest(platform, {
        imports: [TollgateModule.forRoot({ max: 1, window: '1m' })],
        controllers: [Guarded, Open],
      });
      expect((await get(`${url}/guarded`)).status).toBe(200);
      expect((await get(`${url}/guarded`)).status).toBe(429);
      // No guard there: its @RateLimit has nothing to apply it.
      expect((await get(`${url}/open`)).status).toBe(200);
      expect((await get(`${url}/open`)).status).toBe(200);
    });

    it('forRootAsync takes its options from a factory with injected providers', async () => {
      const CONFIG = 'CONFIG';
      class ConfigModule {}
      const { Module } = await import('@nestjs/common');
      Module({ providers: [{ provide: CONFIG, useValue: { max: 1 } }], exports: [CONFIG] })(ConfigModule);
      const { url } = await startNest(platform, {
        imports: [
          TollgateModule.forRootAsync({
            imports: [ConfigModule],
            inject: [CONFIG],
            useFactory: async (config: { max: number }) => ({
              max: config.max,
              window: '1m',
              store: new MemoryStore(),
            }),
          }),
        ],
        controllers: [itemsController([])],
        providers: [guard],
      });
      expect((await get(`${url}/items`)).status).toBe(200);
      expect((await get(`${url}/items`)).status).toBe(429);
    });

    it("an app's exception filter for RateLimitRefusedException answers instead, with the headers already set", async () => {
      class Teapot implements ExceptionFilter {
        catch(exception: RateLimitRefusedException, host: ArgumentsHost) {
          const res = host.switchToHttp().getResponse();
          const body = JSON.stringify({ slowDown: exception.getStatus(), remaining: exception.decision?.remaining });
          if (typeof res.code === 'function') res.code(418).type('application/json').send(body);
          else res.status(418).type('application/json').send(body);
        }
      }
      Catch(RateLimitRefusedException)(Teapot);
      const { url } = await startNest(platform, {
        imports: [TollgateModule.forRoot({ max: 1, window: '1m' })],
        controllers: [itemsController([])],
        providers: [guard, { provide: APP_FILTER, useClass: Teapot }],
      });
      await get(`${url}/items`);
      const refused = await get(`${url}/items`);
      expect(refused.status).toBe(418);
      expect(JSON.parse(refused.body)).toEqual({ slowDown: 429, remaining: 0 });
      expect(refused.headers.get('retry-after')).toBe('60');
    });

    it('a bad @RateLimit() fails the bootstrap with the coded error, never a request', async () => {
      class Bad {
        x() {
          return 'x';
        }
      }
      decorate(Bad, { x: [Get('x'), RateLimit({ max: 10, window: '1 minute' as never })] }, [Controller()]);
      const failed = await startNest(platform, {
        imports: [TollgateModule.forRoot()],
        controllers: [Bad],
        providers: [guard],
      }).catch((error: unknown) => error);
      expect(failed).toBeInstanceOf(TollgateError);
      expect((failed as TollgateError).code).toBe(ErrorCodes.INVALID_OPTION);
      expect((failed as Error).message).toContain('`window`');
    });

    it('two controllers of one class name (two modules) with unnamed limits are refused at bootstrap, not merged', async () => {
      const make = () => {
        class UsersController {
          list() {
            return [];
          }
        }
        return decorate(UsersController, { list: [Get(), RateLimit({ max: 1, window: '1m' })] }, [
          Controller(`users${Math.random().toString(36).slice(2, 6)}`),
        ]);
      };
      const failed = await startNest(platform, {
        imports: [TollgateModule.forRoot()],
        controllers: [make(), make()],
        providers: [guard],
      }).catch((error: unknown) => error);
      expect((failed as TollgateError).code).toBe(ErrorCodes.INVALID_OPTION);
      expect((failed as Error).message).toContain('UsersController.list');
    });
  });
}

describe('TollgateModule options', () => {
  it('refuses `handler` (exception filters answer refusals in Nest) and a name without a policy', () => {
    expect(() => TollgateModule.forRoot({ max: 1, window: '1m', handler: () => {} } as never)).toThrow(/handler/);
    expect(() => TollgateModule.forRoot({ name: 'x' })).toThrow(/no app-wide limit to name/);
    expect(() => TollgateModule.forRoot({ key: 'cookie' } as never)).toThrow(/`key`/);
    expect(() => TollgateModule.forRoot({ telemetry: 'yes' } as never)).toThrow(/`telemetry`/);
  });
});
