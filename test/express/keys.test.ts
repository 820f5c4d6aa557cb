import { createServer } from 'node:net';
import { tokenKey } from '@tollgate/core/adapter';
import { ErrorCodes, rateLimit, TollgateError } from '@tollgate/express';
import express from 'express';
import { describe, expect, it } from 'vitest';
import { closeServersAfterEach, counter, get, manualClock, serve, storeKeys } from './support.js';

closeServersAfterEach();

async function appWith(options: Parameters<typeof rateLimit>[0], trustProxy?: boolean | string | number) {
  const app = express();
  if (trustProxy !== undefined) app.set('trust proxy', trustProxy);
  const route = counter();
  app.use(rateLimit(options));
  app.get('/r', route.handler);
  return { url: `${await serve(app)}/r`, calls: route.calls };
}

const hasIpv6Loopback = await new Promise<boolean>((resolve) => {
  const probe = createServer()
    .once('error', () => resolve(false))
    .listen(0, '::1', () => probe.close(() => resolve(true)));
});

const xff = (value: string) => ({ 'x-forwarded-for': value });

describe("key: 'ip'", () => {
  it('without trust proxy ignores X-Forwarded-For: two different values share one bucket', async () => {
    const { store } = manualClock();
    const { url, calls } = await appWith({ max: 1, window: '1m', store });
    expect((await get(url, xff('203.0.113.1'))).status).toBe(200);
    expect((await get(url, xff('198.51.100.7'))).status).toBe(429);
    expect(calls()).toBe(1);
    const keys = storeKeys(store);
    expect(keys).toHaveLength(1);
    expect(keys[0]).toMatch(/:127\.0\.0\.1$/);
    expect(keys.join()).not.toContain('203.0.113.1');
  });

  it("with app.set('trust proxy', true) X-Forwarded-For decides", async () => {
    const { store } = manualClock();
    const { url } = await appWith({ max: 1, window: '1m', store }, true);
    expect((await get(url, xff('203.0.113.1'))).status).toBe(200);
    expect((await get(url, xff('198.51.100.7'))).status).toBe(200);
    expect((await get(url, xff('203.0.113.1'))).status).toBe(429);
    expect((await get(url, xff('198.51.100.7'))).status).toBe(429);
    expect(storeKeys(store).map((k) => k.split(':').pop())).toEqual(['203.0.113.1', '198.51.100.7']);
  });

  it("with trust proxy 'loopback' the client is the address the loopback proxy saw", async () => {
    const { store } = manualClock();
    const { url } = await appWith({ max: 1, window: '1m', store }, 'loopback');
    // The client claims an address, an untrusted hop appends the real one.
    expect((await get(url, xff('10.0.0.1, 203.0.113.9'))).status).toBe(200);
    expect((await get(url, xff('10.0.0.2, 203.0.113.9'))).status).toBe(429);
    expect(storeKeys(store)[0]).toMatch(/:203\.0\.113\.9$/);
  });

  it('groups IPv6 clients by /64: same /64 shares a bucket, different /64s do not', async () => {
    const { store } = manualClock();
    const { url } = await appWith({ max: 1, window: '1m', store }, true);
    expect((await get(url, xff('2001:db8:1:1::1'))).status).toBe(200);
    expect((await get(url, xff('2001:db8:1:1:ffff:ffff:ffff:ffff'))).status).toBe(429);
    expect((await get(url, xff('2001:db8:1:2::1'))).status).toBe(200);
    expect((await get(url, xff('2001:db8:1:2::2'))).status).toBe(429);
    const keys = storeKeys(store);
    expect(keys).toHaveLength(2);
    expect(keys.some((k) => k.endsWith(':2001:db8:1:1::/64'))).toBe(true);
    expect(keys.some((k) => k.endsWith(':2001:db8:1:2::/64'))).toBe(true);
  });

  it('ipv6Subnet: 128 keeps every IPv6 address apart', async () => {
    const { store } = manualClock();
    const { url } = await appWith({ max: 1, window: '1m', store, ipv6Subnet: 128 }, true);
    expect((await get(url, xff('2001:db8:1:1::1'))).status).toBe(200);
    expect((await get(url, xff('2001:db8:1:1::2'))).status).toBe(200);
    expect((await get(url, xff('2001:db8:1:1::1'))).status).toBe(429);
    expect(storeKeys(store)).toHaveLength(2);
  });

  it('ipv6Subnet: 48 groups wider networks', async () => {
    const { store } = manualClock();
    const { url } = await appWith({ max: 1, window: '1m', store, ipv6Subnet: 48 }, true);
    expect((await get(url, xff('2001:db8:1:1::1'))).status).toBe(200);
    expect((await get(url, xff('2001:db8:1:ffff::1'))).status).toBe(429);
    expect((await get(url, xff('2001:db8:2::1'))).status).toBe(200);
  });

  it('an IPv4-mapped IPv6 address shares the bucket of the IPv4 address', async () => {
    const { store } = manualClock();
    const { url } = await appWith({ max: 1, window: '1m', store }, true);
    expect((await get(url, xff('192.0.2.4'))).status).toBe(200);
    expect((await get(url, xff('::ffff:192.0.2.4'))).status).toBe(429);
    expect((await get(url, xff('::ffff:c000:205'))).status).toBe(200); // 192.0.2.5
    expect((await get(url, xff('192.0.2.5'))).status).toBe(429);
    expect(storeKeys(store).map((k) => k.split(':').pop())).toEqual(['192.0.2.4', '192.0.2.5']);
  });

  it('a forwarded value that is not an IP still gets a bucket, and never reaches the store raw', async () => {
    const { store } = manualClock();
    const { url } = await appWith({ max: 1, window: '1m', store }, true);
    expect((await get(url, xff('not-an-ip {evil}'))).status).toBe(200);
    expect((await get(url, xff('not-an-ip {evil}'))).status).toBe(429);
    expect((await get(url, xff('203.0.113.1'))).status).toBe(200);
    expect(storeKeys(store).join()).not.toContain('evil');
  });

  it.skipIf(!hasIpv6Loopback && !process.env.CI)('works for a server on the IPv6 loopback', async () => {
    const { store } = manualClock();
    const app = express();
    app.use(rateLimit({ max: 1, window: '1m', store }));
    app.get('/r', (_req, res) => {
      res.send('ok');
    });
    const base = await serve(app, '::1');
    expect((await get(`${base}/r`)).status).toBe(200);
    expect((await get(`${base}/r`)).status).toBe(429);
    expect(storeKeys(store)[0]).toMatch(/:::\/64$/);
  });

  it.each([0, 129, 64.5, '64'])('ipv6Subnet %s is refused at construction', (value) => {
    let error: unknown;
    try {
      rateLimit({ max: 1, window: '1m', ipv6Subnet: value as number });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(TollgateError);
    expect((error as TollgateError).code).toBe(ErrorCodes.INVALID_OPTION);
    expect((error as Error).message).toContain('`ipv6Subnet`');
    expect((error as Error).message).toContain(String(value));
  });
});

describe("key: 'token'", () => {
  it('Authorization: Bearer and X-API-Key with the same token share one bucket, apart from another token', async () => {
    const { store } = manualClock();
    const { url, calls } = await appWith({ max: 2, window: '1m', store, key: 'token' });
    expect((await get(url, { authorization: 'Bearer abc' })).status).toBe(200);
    expect((await get(url, { 'x-api-key': 'abc' })).status).toBe(200);
    expect((await get(url, { authorization: 'Bearer abc' })).status).toBe(429);
    expect((await get(url, { 'x-api-key': 'abc' })).status).toBe(429);
    expect((await get(url, { authorization: 'Bearer xyz' })).status).toBe(200);
    expect((await get(url, { 'x-api-key': 'xyz' })).status).toBe(200);
    expect(calls()).toBe(4);
    expect(storeKeys(store)).toHaveLength(2);
  });

  it('the Bearer scheme is case-insensitive', async () => {
    const { store } = manualClock();
    const { url } = await appWith({ max: 1, window: '1m', store, key: 'token' });
    expect((await get(url, { authorization: 'bearer tok-1' })).status).toBe(200);
    expect((await get(url, { authorization: 'BEARER tok-1' })).status).toBe(429);
  });

  it('without a token falls back to the client IP', async () => {
    const { store } = manualClock();
    const { url } = await appWith({ max: 1, window: '1m', store, key: 'token' });
    expect((await get(url)).status).toBe(200);
    // Another token-less request from the same IP shares the bucket; a Basic credential is no token.
    expect((await get(url, { authorization: 'Basic dXNlcjpwYXNz' })).status).toBe(429);
    expect((await get(url, { 'x-api-key': '   ' })).status).toBe(429);
    // A token gets its own bucket.
    expect((await get(url, { authorization: 'Bearer abc' })).status).toBe(200);
    const keys = storeKeys(store);
    expect(keys).toHaveLength(2);
    expect(keys.filter((k) => k.endsWith(':127.0.0.1'))).toHaveLength(1);
  });

  it('the IP fallback honours trust proxy', async () => {
    const { store } = manualClock();
    const { url } = await appWith({ max: 1, window: '1m', store, key: 'token' }, true);
    expect((await get(url, xff('203.0.113.1'))).status).toBe(200);
    expect((await get(url, xff('203.0.113.2'))).status).toBe(200);
    expect((await get(url, xff('203.0.113.1'))).status).toBe(429);
  });

  it('never puts the raw token into a store key', async () => {
    const { store } = manualClock();
    const { url } = await appWith({ max: 5, window: '1m', store, key: 'token' });
    const secret = 'sk-live-SECRET-0123456789abcdef';
    const other = 'user:42';
    await get(url, { authorization: `Bearer ${secret}` });
    await get(url, { 'x-api-key': secret });
    await get(url, { 'x-api-key': other });
    const keys = storeKeys(store);
    expect(keys).toHaveLength(2);
    for (const key of keys) {
      expect(key).not.toContain(secret);
      expect(key).not.toContain('SECRET');
      expect(key).not.toContain(other);
    }
  });

  it('never puts the raw token into the response either', async () => {
    const { store } = manualClock();
    const { url } = await appWith({ max: 1, window: '1m', store, key: 'token' });
    const secret = 'sk-live-SECRET-0123456789abcdef';
    await get(url, { 'x-api-key': secret });
    const refused = await get(url, { 'x-api-key': secret });
    expect(refused.status).toBe(429);
    expect(refused.text).not.toContain('SECRET');
    for (const [, value] of refused.headers) expect(value).not.toContain('SECRET');
  });

  it('a token client can be reset through the limiter with tokenKey(token)', async () => {
    const app = express();
    const mw = rateLimit({ max: 1, window: '1h', key: 'token' });
    app.use(mw);
    app.get('/r', counter().handler);
    const url = `${await serve(app)}/r`;
    const auth = { authorization: 'Bearer tok-reset' };
    expect((await get(url, auth)).status).toBe(200);
    expect((await get(url, auth)).status).toBe(429);
    await mw.limiter.reset(tokenKey('tok-reset'));
    expect((await get(url, auth)).status).toBe(200);
  });
});
