import { describe, expect, it } from 'vitest';
import { TollgateError } from '../errors.js';
import {
  fetchRequestInfo,
  forwardedClient,
  parseTrustProxy,
  refusalResponse,
  runtimeClientAddress,
  withHeaders,
} from './fetch-api.js';

describe('withHeaders', () => {
  it('adds the fields a response lacks and keeps the ones it has (an inner limiter’s merged fields win)', () => {
    const response = new Response('ok', { headers: { RateLimit: '"inner";r=1;t=5' } });
    const out = withHeaders(response, [
      ['RateLimit', '"outer";r=9;t=1'],
      ['RateLimit-Policy', '"outer";q=10;w=60'],
    ]);
    expect(out).toBe(response);
    expect(out.headers.get('ratelimit')).toBe('"inner";r=1;t=5');
    expect(out.headers.get('ratelimit-policy')).toBe('"outer";q=10;w=60');
  });

  it('copies a response whose headers are immutable, body, status and cookies included', async () => {
    const redirect = Response.redirect('http://127.0.0.1/next', 302);
    expect(() => redirect.headers.set('x', 'y')).toThrow(TypeError);
    const out = withHeaders(redirect, [['RateLimit', '"p";r=1;t=1']]);
    expect(out).not.toBe(redirect);
    expect(out.status).toBe(302);
    expect(out.headers.get('location')).toBe('http://127.0.0.1/next');
    expect(out.headers.get('ratelimit')).toBe('"p";r=1;t=1');
    await out.text();
  });
});

describe('refusalResponse', () => {
  it('writes the status, the fields and the problem body', async () => {
    const response = refusalResponse({
      action: 'reject',
      status: 500,
      headers: [['Retry-After', '3']],
      contentType: 'application/problem+json',
      body: '{"status":500}',
      decision: undefined,
    });
    expect(response.status).toBe(500);
    expect(response.headers.get('retry-after')).toBe('3');
    expect(response.headers.get('content-type')).toBe('application/problem+json');
    expect(await response.text()).toBe('{"status":500}');
  });
});

describe('runtimeClientAddress', () => {
  const request = new Request('http://127.0.0.1/');
  it('reads @hono/node-server’s socket, Bun’s requestIP and Deno’s remoteAddr', () => {
    expect(runtimeClientAddress(request, { incoming: { socket: { remoteAddress: '198.51.100.1' } } })).toBe(
      '198.51.100.1',
    );
    expect(runtimeClientAddress(request, { server: { incoming: { socket: { remoteAddress: '::1' } } } })).toBe('::1');
    const bun = {
      requestIP(this: unknown, r: Request) {
        return this === bun && r === request ? { address: '203.0.113.9', family: 'IPv4', port: 1 } : null;
      },
    };
    expect(runtimeClientAddress(request, bun)).toBe('203.0.113.9');
    expect(runtimeClientAddress(request, { server: bun })).toBe('203.0.113.9');
    expect(runtimeClientAddress(request, { remoteAddr: { hostname: '2001:db8::1', port: 1, transport: 'tcp' } })).toBe(
      '2001:db8::1',
    );
  });

  it('is undefined without a runtime binding it knows, and never reads a header', () => {
    const forwarded = new Request('http://127.0.0.1/', { headers: { 'x-forwarded-for': '203.0.113.1' } });
    for (const env of [undefined, null, 'x', {}, { params: Promise.resolve({}) }, { requestIP: () => null }]) {
      expect(runtimeClientAddress(forwarded, env)).toBeUndefined();
    }
  });
});

describe('trustProxy and forwardedClient', () => {
  it('accepts a number of hops or false, and refuses true with a reason', () => {
    expect(parseTrustProxy(undefined)).toBe(0);
    expect(parseTrustProxy(false)).toBe(0);
    expect(parseTrustProxy(2)).toBe(2);
    for (const bad of [true, 0, -1, 1.5, '1', Number.NaN]) {
      expect(() => parseTrustProxy(bad)).toThrow(TollgateError);
    }
    expect(() => parseTrustProxy(true)).toThrow(/trustProxy.*true is not accepted/s);
  });

  it('takes the address the hops-th proxy from the right saw, as Express does', () => {
    expect(forwardedClient('10.0.0.1', '203.0.113.1, 198.51.100.2', 1)).toBe('198.51.100.2');
    expect(forwardedClient('10.0.0.1', '203.0.113.1, 198.51.100.2', 2)).toBe('203.0.113.1');
    expect(forwardedClient('10.0.0.1', '203.0.113.1', 3)).toBe('203.0.113.1');
    expect(forwardedClient('10.0.0.1', null, 1)).toBe('10.0.0.1');
    expect(forwardedClient('10.0.0.1', '203.0.113.1', 0)).toBe('10.0.0.1');
    expect(forwardedClient(undefined, '203.0.113.1', 1)).toBe('203.0.113.1');
    expect(forwardedClient('10.0.0.1', '203.0.113.1, ', 1)).toBeUndefined();
  });
});

describe('fetchRequestInfo', () => {
  it('describes the request for the server span', () => {
    const info = fetchRequestInfo(
      new Request('https://[::1]/users/7?token=secret', { headers: { 'user-agent': 'ua', traceparent: 'tp' } }),
      '198.51.100.1',
      { incoming: { httpVersion: '1.1' } },
    );
    expect({ ...info, header: undefined }).toEqual({
      method: 'GET',
      scheme: 'https',
      path: '/users/7',
      serverAddress: '::1',
      serverPort: 443,
      clientAddress: '198.51.100.1',
      userAgent: 'ua',
      protocolVersion: '1.1',
      header: undefined,
    });
    expect(info.header('traceparent')).toBe('tp');
    expect(info.header('x-missing')).toBeUndefined();
  });
});
