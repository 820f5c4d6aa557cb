import Router from '@koa/router';
import { rateLimit } from '@tollgate/koa';
import Koa from 'koa';
import { afterEach, describe, expect, it } from 'vitest';
import { listen } from '../helpers/http.js';

const closers: Array<() => Promise<void>> = [];
afterEach(async () => {
  await Promise.all(closers.splice(0).map((close) => close()));
});

describe('Koa: keyFor(ctx) and ctx.state.rateLimit', () => {
  it('keyFor derives the key the middleware counts under, so peek and reset reach that bucket', async () => {
    const limit = rateLimit({ max: 3, window: '1h', key: 'token', name: 'koa-key-for' });
    const router = new Router();
    router.get('/work', limit, (ctx) => {
      ctx.body = { key: ctx.state.rateLimit?.key, remaining: ctx.state.rateLimit?.remaining };
    });
    // Not limited itself: reads the bucket the same request maps to on /work.
    router.get('/status', async (ctx) => {
      const key = await limit.keyFor(ctx);
      const status = key === undefined ? undefined : await limit.limiter.peek(key);
      if (ctx.query.reset === 'yes' && key !== undefined) await limit.limiter.reset(key);
      ctx.body = { key, remaining: status?.remaining };
    });
    const app = new Koa();
    app.use(router.routes());
    const server = await listen(app.callback());
    closers.push(server.close);
    const token = { authorization: 'Bearer koa-secret-token-1234' };
    const json = async (path: string) =>
      (await (await fetch(server.url + path, { headers: token })).json()) as { key: string; remaining: number };

    const worked = await json('/work');
    await json('/work');
    const status = await json('/status');
    expect(status.key).toBe(worked.key);
    expect(status.key).not.toContain('koa-secret');
    expect(status.remaining).toBe(1);
    await json('/status?reset=yes');
    expect((await json('/status')).remaining).toBe(3);
    expect((await json('/work')).remaining).toBe(2);
  });

  it('keyFor answers undefined when the client address is unknown, as the middleware would refuse', async () => {
    const limit = rateLimit({ max: 3, window: '1h' });
    expect(await limit.keyFor({ ip: '' } as never)).toBeUndefined();
  });
});
