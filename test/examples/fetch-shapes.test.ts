import { describe, expect, it } from 'vitest';
import { fetch as bunOrDeno } from '../../examples/fetch/bun-deno.js';
import { GET } from '../../examples/fetch/next-route.js';

/**
 * The Fetch API examples as Bun, Deno and Next.js call them, with Node's own Request and
 * Response: none of those runtimes is on this machine, but the calls are the same.
 */
const request = (path: string, headers: Record<string, string> = {}) =>
  new Request(`http://127.0.0.1${path}`, { headers });

describe('examples/fetch/bun-deno.ts', () => {
  it('Bun.serve: limits by server.requestIP(request), 10 a minute', async () => {
    const server = { requestIP: () => ({ address: '198.51.100.20', family: 'IPv4', port: 50000 }) };
    const statuses: number[] = [];
    for (let i = 0; i < 11; i++) statuses.push((await bunOrDeno(request('/hello'), server)).status);
    expect(statuses).toEqual([...Array(10).fill(200), 429]);
    const other = { requestIP: () => ({ address: '198.51.100.21', family: 'IPv4', port: 50000 }) };
    const reply = await bunOrDeno(request('/hello'), other);
    expect(reply.status).toBe(200);
    expect(reply.headers.get('ratelimit-policy')).toBe('"hello";q=10;w=60');
  });

  it('Deno.serve: limits by info.remoteAddr, and serves /metrics', async () => {
    const info = { remoteAddr: { transport: 'tcp', hostname: '2001:db8:5::1', port: 50000 } };
    expect((await bunOrDeno(request('/hello'), info)).status).toBe(200);
    const metrics = await bunOrDeno(request('/metrics'));
    expect(await metrics.text()).toMatch(/http_server_request_duration_seconds_count\{[^}]*http_route="\/hello"/);
  });
});

describe('examples/fetch/next-route.ts', () => {
  it('GET limits by X-Real-IP and shows the decision in the body', async () => {
    const context = { params: Promise.resolve({}) };
    const first = await GET(request('/api/hello', { 'x-real-ip': '203.0.113.50' }), context);
    expect(await first.json()).toEqual({ hello: 'world', left: 9 });
    for (let i = 0; i < 9; i++) await GET(request('/api/hello', { 'x-real-ip': '203.0.113.50' }), context);
    const refused = await GET(request('/api/hello', { 'x-real-ip': '203.0.113.50' }), context);
    expect(refused.status).toBe(429);
    expect(refused.headers.get('content-type')).toBe('application/problem+json');
    expect((await GET(request('/api/hello', { 'x-real-ip': '203.0.113.51' }), context)).status).toBe(200);
  });
});
