import { rateLimit } from '@tollgate/koa';
import Koa from 'koa';
import { describe, expect, it } from 'vitest';
import { closeServersAfterEach, counting, get, manualClock, serveKoa, storeKeys } from './support.js';

closeServersAfterEach();

async function appWith(configure: (app: Koa) => void) {
  const { store } = manualClock();
  const app = new Koa();
  configure(app);
  const route = counting();
  app.use(rateLimit({ max: 1, window: '1m', store }));
  app.use(route.handler);
  const url = await serveKoa(app);
  return { url, calls: route.calls, ips: () => storeKeys(store).map((k) => k.split(':').pop()) };
}

const xff = (value: string) => ({ 'x-forwarded-for': value });

describe("key 'ip' follows Koa's own proxy settings", () => {
  it('app.proxy = false (the default): X-Forwarded-For is ignored, every value shares the socket bucket', async () => {
    const { url, calls, ips } = await appWith(() => {});
    expect((await get(url, xff('203.0.113.1'))).status).toBe(200);
    expect((await get(url, xff('198.51.100.7'))).status).toBe(429);
    expect(calls()).toBe(1);
    expect(ips()).toEqual(['127.0.0.1']);
  });

  it('app.proxy = true: X-Forwarded-For decides the client', async () => {
    const { url, ips } = await appWith((app) => {
      app.proxy = true;
    });
    expect((await get(url, xff('203.0.113.1'))).status).toBe(200);
    expect((await get(url, xff('198.51.100.7'))).status).toBe(200);
    expect((await get(url, xff('203.0.113.1'))).status).toBe(429);
    expect(ips().sort()).toEqual(['198.51.100.7', '203.0.113.1']);
  });

  it("app.proxyIpHeader = 'X-Real-IP' is honoured and X-Forwarded-For is then ignored", async () => {
    const { url, ips } = await appWith((app) => {
      app.proxy = true;
      app.proxyIpHeader = 'X-Real-IP';
    });
    expect((await get(url, { 'x-real-ip': '203.0.113.1', 'x-forwarded-for': '10.0.0.1' })).status).toBe(200);
    expect((await get(url, { 'x-real-ip': '203.0.113.1', 'x-forwarded-for': '10.0.0.2' })).status).toBe(429);
    expect((await get(url, { 'x-real-ip': '198.51.100.7', 'x-forwarded-for': '10.0.0.1' })).status).toBe(200);
    expect(ips().sort()).toEqual(['198.51.100.7', '203.0.113.1']);
  });

  it('app.proxyIpHeader without app.proxy is not trusted', async () => {
    const { url, ips } = await appWith((app) => {
      app.proxyIpHeader = 'X-Real-IP';
    });
    expect((await get(url, { 'x-real-ip': '203.0.113.1' })).status).toBe(200);
    expect((await get(url, { 'x-real-ip': '198.51.100.7' })).status).toBe(429);
    expect(ips()).toEqual(['127.0.0.1']);
  });

  it('app.maxIpsCount = 1 keys by the address the nearest proxy appended, not the one the client claims', async () => {
    const { url, ips } = await appWith((app) => {
      app.proxy = true;
      app.maxIpsCount = 1;
    });
    expect((await get(url, xff('10.0.0.1, 203.0.113.9'))).status).toBe(200);
    expect((await get(url, xff('10.0.0.2, 203.0.113.9'))).status).toBe(429);
    expect(ips()).toEqual(['203.0.113.9']);
  });
});
