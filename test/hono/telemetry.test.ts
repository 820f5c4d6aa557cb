import { createRequire } from 'node:module';
import { metricsHandler, rateLimit, telemetry } from '@tollgate/hono';
import type { Hono as HonoType } from 'hono';
import { afterEach, describe, expect, it } from 'vitest';
import { serveFetch } from '../helpers/fetch-server.js';

const opened: Array<() => Promise<void>> = [];
afterEach(async () => {
  await Promise.all(opened.splice(0).map((close) => close()));
});

describe('telemetry() in Hono', () => {
  it('names the route when the app runs the CommonJS build of Hono and tollgate the ESM one', async () => {
    // The app's Hono from require(), as a CommonJS app (or a bundler's choice) loads it.
    const { Hono } = createRequire(import.meta.url)('hono') as { Hono: typeof HonoType };
    const app = new Hono();
    app.use(telemetry());
    app.get('/metrics', metricsHandler());
    app.use(rateLimit({ max: 1, window: '1h', name: 'dual-build' }));
    app.get('/dual/:id', (c) => c.text('ok'));
    const server = await serveFetch(app.fetch);
    opened.push(server.close);
    expect((await fetch(`${server.url}/dual/1`)).status).toBe(200);
    // Refused by the app-wide limiter before its handler ran: still named by the route it was for.
    expect((await fetch(`${server.url}/dual/2`)).status).toBe(429);
    const scrape = await (await fetch(`${server.url}/metrics`)).text();
    expect(scrape).toMatch(/http_server_request_duration_seconds_count\{[^}]*http_route="\/dual\/:id"[^}]*"200"\} 1/);
    expect(scrape).toMatch(/http_server_request_duration_seconds_count\{[^}]*http_route="\/dual\/:id"[^}]*"429"\} 1/);
  });
});
