import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type RequestListener, type Server } from 'node:http';
import { connect, isIP } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SpanKind } from '@opentelemetry/api';
import type { ReadableSpan } from '@opentelemetry/sdk-trace-base';
import { type Logger, MemoryStore, register } from '@tollgate/core';
import { ipKey } from '@tollgate/core/adapter';
import * as tgExpress from '@tollgate/express';
import * as tgFastify from '@tollgate/fastify';
import * as tgKoa from '@tollgate/koa';
import express from 'express';
import Fastify from 'fastify';
import Koa from 'koa';
import { afterAll, afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { startInMemoryTracing } from '../helpers/in-memory-tracing.js';
import { collectingLogger, type LogLine, report } from './support.js';

/**
 * Hostile input through real HTTP, in Express, Koa and Fastify: very long tokens, line breaks,
 * Redis hash-tag braces, bytes that are not UTF-8, header injection attempts, thousands of
 * X-Forwarded-For entries. Requests are written byte for byte on a raw socket. Whatever comes
 * in, store keys stay short and made of safe characters, and the hostile text never shows up in
 * a response header, the Prometheus registry, a span, or a log line. Spoofed X-Forwarded-For
 * (and Forwarded) count only as far as the framework's own trust-proxy setting says; an IPv6
 * client rotating through its /64 stays one client; a request without a client address is
 * refused instead of sharing one bucket with every other such request.
 */

const tracing = startInMemoryTracing('tollgate-hostile');
afterAll(() => tracing.shutdown());

const MAX = 3;
const MAX_HEADER_SIZE = 256 * 1024;
/** A store key: tollgate's prefix, then only these characters, and short. */
const SAFE_KEY = /^[A-Za-z0-9._:/@+=#-]{1,160}$/;

type Framework = 'express' | 'koa' | 'fastify';
type KeyKind = 'ip' | 'token' | 'query';

interface Served {
  port: number | undefined;
  socketPath: string | undefined;
  store: MemoryStore;
  log: LogLine[];
  close(): Promise<void>;
}

interface Spec {
  key: KeyKind;
  trust: boolean;
  /** Listen on a Unix socket instead of loopback TCP: the framework sees no client address. */
  socketPath?: string;
}

/** The same app in each framework: telemetry, a limit of 3, and GET /r answering the client IP it saw. */
async function serve(framework: Framework, spec: Spec): Promise<Served> {
  const store = new MemoryStore();
  const { lines, logger } = collectingLogger();
  const name = `hostile-${framework}-${spec.key}-${spec.trust ? 'trust' : 'direct'}${spec.socketPath ? '-sock' : ''}`;
  const limit = { max: MAX, window: '1h' as const, store, name, logger: logger as Logger };
  const listenOn = async (server: Server): Promise<number | undefined> => {
    await new Promise<void>((resolve) => {
      if (spec.socketPath) server.listen(spec.socketPath, resolve);
      else server.listen(0, '127.0.0.1', resolve);
    });
    const address = server.address();
    return typeof address === 'object' && address !== null ? address.port : undefined;
  };
  const closeServer = (server: Server) => () =>
    new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    });

  if (framework === 'express') {
    const app = express();
    if (spec.trust) app.set('trust proxy', true);
    app.use(tgExpress.telemetry());
    const key = spec.key === 'query' ? (req: express.Request) => String(req.query.u) : spec.key;
    app.use(tgExpress.rateLimit({ ...limit, key }));
    app.get('/r', (req, res) => {
      res.json({ ip: req.ip ?? null });
    });
    const server = createServer({ maxHeaderSize: MAX_HEADER_SIZE }, app as RequestListener);
    const port = await listenOn(server);
    return { port, socketPath: spec.socketPath, store, log: lines, close: closeServer(server) };
  }
  if (framework === 'koa') {
    const app = new Koa();
    app.silent = true;
    app.proxy = spec.trust;
    app.use(tgKoa.telemetry());
    const key = spec.key === 'query' ? (ctx: Koa.Context) => String(ctx.query.u) : spec.key;
    app.use(tgKoa.rateLimit({ ...limit, key }));
    app.use((ctx) => {
      ctx.body = { ip: ctx.ip || null };
    });
    const server = createServer({ maxHeaderSize: MAX_HEADER_SIZE }, app.callback());
    const port = await listenOn(server);
    return { port, socketPath: spec.socketPath, store, log: lines, close: closeServer(server) };
  }
  const app = Fastify({ trustProxy: spec.trust, http: { maxHeaderSize: MAX_HEADER_SIZE } });
  await app.register(tgFastify.telemetry);
  const key =
    spec.key === 'query' ? (request: { query: unknown }) => String((request.query as { u?: string }).u) : spec.key;
  await app.register(tgFastify.rateLimit, { ...limit, key });
  app.get('/r', async (request) => ({ ip: request.ip ?? null }));
  await app.ready();
  const port = await listenOn(app.server);
  return { port, socketPath: spec.socketPath, store, log: lines, close: () => app.close() };
}

interface RawResponse {
  status: number;
  /** Status line and header block, as sent. */
  head: string;
  body: string;
  raw: string;
}

/** Writes `lines` (raw bytes) as the header block of a GET, on a socket of its own. */
function send(target: Served, path: string, lines: (string | Buffer)[] = []): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    const socket = target.socketPath ? connect(target.socketPath) : connect(target.port as number, '127.0.0.1');
    const chunks: Buffer[] = [];
    socket.on('data', (c: Buffer) => chunks.push(c));
    socket.on('error', reject);
    socket.on('close', () => {
      const raw = Buffer.concat(chunks).toString('latin1');
      const split = raw.indexOf('\r\n\r\n');
      const head = split === -1 ? raw : raw.slice(0, split);
      resolve({ status: Number(/^HTTP\/1\.1 (\d{3})/.exec(raw)?.[1] ?? 0), head, body: raw.slice(split + 4), raw });
    });
    const parts: Buffer[] = [Buffer.from(`GET ${path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n`, 'latin1')];
    for (const line of lines) {
      parts.push(typeof line === 'string' ? Buffer.from(line, 'latin1') : line, Buffer.from('\r\n', 'latin1'));
    }
    parts.push(Buffer.from('\r\n', 'latin1'));
    socket.end(Buffer.concat(parts));
  });
}

const json = (r: RawResponse): { ip: string | null } => {
  // Fastify and Koa may answer chunked: take the JSON object out of the body.
  const match = /\{.*\}/s.exec(r.body);
  return JSON.parse(match ? match[0] : '{}');
};

const servers: Served[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.close()));
});

async function app(framework: Framework, spec: Spec): Promise<Served> {
  const served = await serve(framework, spec);
  servers.push(served);
  return served;
}

/** Everything tollgate and the app put out, besides the responses: metrics, spans, logs. */
async function outputs(served: Served, consoleLines: unknown[][]): Promise<string> {
  const spans = tracing.spans().map((s) => ({ name: s.name, attributes: s.attributes, events: s.events }));
  return [
    await register.metrics(),
    JSON.stringify(spans),
    JSON.stringify(served.log),
    JSON.stringify(consoleLines.map((args) => args.map((a) => (a instanceof Error ? a.stack : a)))),
  ].join('\n');
}

function expectSafeKeys(store: MemoryStore, hostile: readonly string[]) {
  const keys = [...store.keys()];
  for (const key of keys) {
    expect(key).toMatch(SAFE_KEY);
    for (const h of hostile) expect(key).not.toContain(h);
  }
  return keys;
}

let consoleLines: unknown[][] = [];
beforeEach(() => {
  tracing.exporter.reset();
  consoleLines = [];
  for (const level of ['log', 'info', 'warn', 'error'] as const) {
    const original = console[level];
    vi.spyOn(console, level).mockImplementation((...args: unknown[]) => {
      consoleLines.push(args);
      original(...args);
    });
  }
});
afterEach(() => {
  vi.restoreAllMocks();
});

/** Hostile tokens, each with a marker that must never be seen again. */
const TOKENS: { label: string; marker: string; lines: (string | Buffer)[] }[] = [
  { label: 'a 12 KB token', marker: 'LONGTOKENMARK', lines: [`X-API-Key: LONGTOKENMARK${'A'.repeat(12_000)}`] },
  {
    label: 'a 12 KB Bearer token',
    marker: 'LONGBEARERMARK',
    lines: [`Authorization: Bearer LONGBEARERMARK${'b'.repeat(12_000)}`],
  },
  { label: 'hash-tag braces', marker: '{BRACEMARK}', lines: ['X-API-Key: {BRACEMARK}rest'] },
  {
    label: 'bytes that are not UTF-8',
    marker: 'NONUTFMARK',
    lines: [
      Buffer.concat([Buffer.from('X-API-Key: NONUTFMARK', 'latin1'), Buffer.from([0xff, 0xfe, 0x80, 0xc3, 0x28])]),
    ],
  },
  {
    label: 'a CRLF header injection attempt',
    marker: 'INJECTMARK',
    lines: ['X-API-Key: INJECTMARK', 'Set-Cookie: INJECTMARKcookie=1', 'X-RateLimit-Limit: INJECTMARK'],
  },
  { label: 'an obs-fold continuation line', marker: 'FOLDMARK', lines: ['X-API-Key: FOLDMARK', ' continued FOLDMARK'] },
  { label: 'a bare LF inside a value', marker: 'BARELFMARK', lines: ['X-API-Key: BARELFMARK\nX-Other: BARELFMARK'] },
  { label: 'a NUL byte', marker: 'NULMARK', lines: ['X-API-Key: NULMARK\u0000tail'] },
  {
    label: 'a token with spaces and quotes',
    marker: 'QUOTEMARK',
    lines: ['X-API-Key: "QUOTEMARK" \'; DROP TABLE x; --'],
  },
];

/** Hostile values of a custom key (from the query string), each with its marker. */
const QUERY_KEYS: { label: string; marker: string; query: string }[] = [
  { label: 'an encoded CRLF', marker: 'QCRLFMARK', query: 'QCRLFMARK%0d%0aSet-Cookie:%20x=1' },
  { label: 'an encoded newline', marker: 'QNLMARK', query: 'QNLMARK%0aNext' },
  { label: 'hash-tag braces', marker: 'QTAGMARK', query: '%7BQTAGMARK%7D' },
  { label: 'an invalid UTF-8 escape', marker: 'QUTFMARK', query: 'QUTFMARK%ff%fe%80' },
  { label: '10 KB', marker: 'QLONGMARK', query: `QLONGMARK${'z'.repeat(10_000)}` },
  { label: 'control characters', marker: 'QCTLMARK', query: 'QCTLMARK%00%01%1b%7f' },
];

const frameworks: Framework[] = ['express', 'koa', 'fastify'];
const xffList = (n: number) =>
  Array.from({ length: n }, (_, i) => `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`);

for (const framework of frameworks) {
  describe(`hostile input through ${framework}`, () => {
    it("key 'token': hostile tokens become bounded, safe store keys and appear nowhere raw", async () => {
      const served = await app(framework, { key: 'token', trust: false });
      const responses: RawResponse[] = [];
      for (const token of TOKENS) {
        for (let i = 0; i <= MAX; i++) responses.push(await send(served, '/r', token.lines));
      }
      const statuses = responses.map((r) => r.status);
      // Every request got an answer; malformed ones a 400 from the HTTP parser; none a 5xx.
      expect(statuses.filter((s) => s === 0 || s >= 500)).toEqual([]);
      expect(statuses.filter((s) => s === 429).length).toBeGreaterThan(0);
      const markers = TOKENS.map((t) => t.marker);
      const keys = expectSafeKeys(served.store, markers);
      expect(keys.length).toBeGreaterThan(0);
      for (const r of responses) for (const m of markers) expect(r.raw).not.toContain(m);
      const out = await outputs(served, consoleLines);
      for (const m of markers) expect(out).not.toContain(m);
      report({
        scenario: `hostile tokens: ${framework}`,
        requests: responses.length,
        admitted: statuses.filter((s) => s === 200).length,
        expected: `≤ ${MAX} per token`,
        maxLatencyMs: 0,
        errors: statuses.filter((s) => s === 0 || s >= 500).length,
        dataLost: 0,
        notes: `statuses ${JSON.stringify(countBy(statuses))}, ${keys.length} store keys, longest ${Math.max(...keys.map((k) => k.length))} chars`,
      });
    });

    it('a custom key from the query string: line breaks, braces, bad UTF-8 and 10 KB become safe keys', async () => {
      const served = await app(framework, { key: 'query', trust: false });
      const statuses: number[] = [];
      for (const q of QUERY_KEYS) {
        const got: number[] = [];
        for (let i = 0; i <= MAX; i++) got.push((await send(served, `/r?u=${q.query}`)).status);
        // Each hostile key is a client of its own, limited exactly.
        expect(got, q.label).toEqual([200, 200, 200, 429]);
        statuses.push(...got);
      }
      const markers = QUERY_KEYS.map((q) => q.marker);
      const keys = expectSafeKeys(served.store, markers);
      expect(keys).toHaveLength(QUERY_KEYS.length);
      const out = await outputs(served, consoleLines);
      for (const m of markers) expect(out).not.toContain(m);
    });

    it('without trust proxy: X-Forwarded-For (spoofed, or thousands of entries) and Forwarded are ignored', async () => {
      const served = await app(framework, { key: 'ip', trust: false });
      const spoofs: (string | Buffer)[][] = [
        ['X-Forwarded-For: 203.0.113.66'],
        ['X-Forwarded-For: 203.0.113.67, 198.51.100.9'],
        [`X-Forwarded-For: ${xffList(3000).join(', ')}`],
        ['Forwarded: for=203.0.113.68;proto=https'],
        ['Forwarded: for="[2001:db8:cafe::17]:4711"'],
        ['X-Real-IP: 203.0.113.69', 'True-Client-IP: 203.0.113.70', 'CF-Connecting-IP: 203.0.113.71'],
      ];
      const statuses: number[] = [];
      for (const lines of spoofs) statuses.push((await send(served, '/r', lines)).status);
      // One client (the socket): the limit applies across every spoofed value.
      expect(statuses).toEqual([200, 200, 200, 429, 429, 429]);
      const keys = expectSafeKeys(served.store, []);
      expect(keys).toHaveLength(1);
      expect(keys[0]).toMatch(/:127\.0\.0\.1$/);
      const out = await outputs(served, consoleLines);
      for (const spoof of ['203.0.113.6', '203.0.113.7', '2001:db8:cafe', '10.0.11.183'])
        expect(out).not.toContain(spoof);
    });

    it('with trust proxy: X-Forwarded-For decides, thousands of entries included; Forwarded only as the framework reads it', async () => {
      const served = await app(framework, { key: 'ip', trust: true });
      const many = xffList(3000);
      const first = await send(served, '/r', [`X-Forwarded-For: ${many.join(', ')}`]);
      expect(first.status).toBe(200);
      // Trusting every hop, the framework takes the leftmost entry; tollgate follows it.
      expect(json(first).ip).toBe(many[0]);
      for (let i = 0; i < MAX; i++) await send(served, '/r', [`X-Forwarded-For: ${many.join(', ')}`]);
      expect((await send(served, '/r', [`X-Forwarded-For: ${many.join(', ')}`])).status).toBe(429);
      expect((await send(served, '/r', ['X-Forwarded-For: 203.0.113.80'])).status).toBe(200);

      // Forwarded (RFC 7239): the key is the address the framework reports, whatever that is.
      const forwarded = await send(served, '/r', ['Forwarded: for=198.51.100.200']);
      const seen = json(forwarded).ip as string;
      const honoured = seen === '198.51.100.200';
      console.log(`${framework} with trust proxy: Forwarded ${honoured ? 'honoured' : 'ignored'} (client ip ${seen})`);
      const keys = expectSafeKeys(served.store, []);
      expect(keys.some((k) => k.endsWith(`:${ipKey(seen, 64)}`))).toBe(true);
      expect(keys.some((k) => k.includes('198.51.100.200'))).toBe(honoured);
      expect(keys.join()).not.toContain(many[1]);
      // Empty forwarded entries never leave a request without an address.
      for (const value of [',', ' , ,', '']) {
        const r = await send(served, '/r', [`X-Forwarded-For: ${value}`]);
        expect(r.status, JSON.stringify(value)).not.toBe(500);
      }
    });

    it('an IPv6 client rotating through its /64 stays one client; IPv4-mapped addresses are their IPv4 form', async () => {
      const served = await app(framework, { key: 'ip', trust: true });
      const hex = () => Math.floor(Math.random() * 0x10000).toString(16);
      const statuses: number[] = [];
      for (let i = 0; i < 40; i++) {
        const ip = `2001:db8:abcd:12:${hex()}:${hex()}:${hex()}:${hex()}`;
        statuses.push((await send(served, '/r', [`X-Forwarded-For: ${ip}`])).status);
      }
      expect(statuses.filter((s) => s === 200)).toHaveLength(MAX);
      expect(statuses.filter((s) => s === 429)).toHaveLength(40 - MAX);
      // The next /64 is another client.
      expect((await send(served, '/r', ['X-Forwarded-For: 2001:db8:abcd:13::1'])).status).toBe(200);
      expect((await send(served, '/r', ['X-Forwarded-For: 192.0.2.44'])).status).toBe(200);
      expect((await send(served, '/r', ['X-Forwarded-For: ::ffff:192.0.2.44'])).status).toBe(200);
      expect((await send(served, '/r', ['X-Forwarded-For: ::ffff:c000:22c'])).status).toBe(200);
      expect((await send(served, '/r', ['X-Forwarded-For: 192.0.2.44'])).status).toBe(429);
      // A named limiter's key: prefix, `n`, name, policy ids, then the client's key.
      const keys = expectSafeKeys(served.store, []).map((k) => k.split(':').slice(4).join(':'));
      expect(keys.sort()).toEqual(['192.0.2.44', '2001:db8:abcd:12::/64', '2001:db8:abcd:13::/64']);
      report({
        scenario: `IPv6 /64 rotation: ${framework}`,
        requests: statuses.length,
        admitted: statuses.filter((s) => s === 200).length,
        expected: MAX,
        maxLatencyMs: 0,
        errors: 0,
        dataLost: 0,
        notes: '40 random addresses in one /64',
      });
    });

    it('on a Unix socket (no client address): refused with a 500 and one log line, never one shared bucket', async () => {
      const dir = mkdtempSync(join(tmpdir(), 'tollgate-sock-'));
      try {
        const served = await app(framework, { key: 'ip', trust: false, socketPath: join(dir, 'app.sock') });
        const responses = await Promise.all(Array.from({ length: 2 * MAX }, () => send(served, '/r')));
        expect(responses.map((r) => r.status)).toEqual(Array(2 * MAX).fill(500));
        expect(responses[0]?.head).toMatch(/content-type: application\/problem\+json/i);
        expect(responses[0]?.body).toContain('cannot identify the client');
        expect([...served.store.keys()]).toEqual([]);
        const lines = served.log.filter((l) => l.message.includes('client address is unknown'));
        expect(lines).toHaveLength(1);
        expect(lines[0]?.level).toBe('error');
        expect(lines[0]?.message).toMatch(/trust proxy|trustProxy|app\.proxy/);
        expect(lines[0]?.fields).toMatchObject({ limiter: `hostile-${framework}-ip-direct-sock` });

        // Behind a trusted proxy on the same socket, X-Forwarded-For names each client.
        const trusted = await app(framework, { key: 'ip', trust: true, socketPath: join(dir, 'trusted.sock') });
        const a = [];
        for (let i = 0; i <= MAX; i++) a.push((await send(trusted, '/r', ['X-Forwarded-For: 203.0.113.90'])).status);
        expect(a).toEqual([200, 200, 200, 429]);
        expect((await send(trusted, '/r', ['X-Forwarded-For: 203.0.113.91'])).status).toBe(200);
        expect(trusted.log).toEqual([]);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    });
  });
}

/**
 * Under trust proxy, the leftmost X-Forwarded-For entry is whatever the client wrote, and every
 * framework hands it on as the client "IP" unchecked (`req.ip`, `ctx.ip`, `request.ip`). The
 * limiter hashes it into a safe key; the span attribute `client.address` must not carry it raw
 * either (semantic conventions: an IP address or socket name), let alone 5 KB of it.
 */
describe('span attributes from a trusted but hostile X-Forwarded-For', () => {
  it('client.address is never raw text that is not an IP (Express, Koa, Fastify)', async () => {
    const found: Record<string, string> = {};
    for (const framework of frameworks) {
      tracing.exporter.reset();
      const served = await app(framework, { key: 'ip', trust: true });
      const garbage = `SPANMARK{evil}${'x'.repeat(5000)}`;
      const r = await send(served, '/r', [`X-Forwarded-For: ${garbage}`]);
      expect(r.status).toBe(200);
      expect(json(r).ip).toBe(garbage);
      expectSafeKeys(served.store, ['SPANMARK']);
      let server: ReadableSpan | undefined;
      for (let i = 0; i < 100 && server === undefined; i++) {
        server = tracing.spans().find((s) => s.kind === SpanKind.SERVER);
        if (server === undefined) await new Promise((resolve) => setTimeout(resolve, 10));
      }
      expect(server).toBeDefined();
      // Metrics and logs never carry it.
      expect(await register.metrics()).not.toContain('SPANMARK');
      expect(JSON.stringify([served.log, consoleLines])).not.toContain('SPANMARK');
      const address = server?.attributes['client.address'];
      if (address !== undefined && isIP(String(address)) === 0) found[framework] = `${String(address).slice(0, 30)}…`;
    }
    expect(found).toEqual({});
  });
});

function countBy(values: readonly number[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const v of values) out[v] = (out[v] ?? 0) + 1;
  return out;
}
