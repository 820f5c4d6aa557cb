import { Writable } from 'node:stream';
import { rateLimit } from '@tollgate/fastify';
import { describe, expect, it } from 'vitest';
import { brokenStore, closeAppsAfterEach, fastify, get, getMany, start } from './support.js';

closeAppsAfterEach();

/** A Fastify logger config writing JSON lines into an array. */
function collectingLogger(level = 'warn') {
  const lines: Array<Record<string, unknown>> = [];
  const stream = new Writable({
    write(chunk, _encoding, callback) {
      for (const line of String(chunk).split('\n')) if (line.trim() !== '') lines.push(JSON.parse(line));
      callback();
    },
  });
  return { lines, logger: { level, stream } };
}

const storeFailed = (lines: Array<Record<string, unknown>>) => lines.filter((l) => l.msg === 'rate limit store failed');

describe("tollgate's log lines go through Fastify's logger", () => {
  it("a store failure under failMode 'local' is logged once, as an error line, and requests still get answers", async () => {
    const { lines, logger } = collectingLogger();
    const store = brokenStore();
    const app = fastify({ logger });
    await app.register(rateLimit, { max: 2, window: '1h', store, failMode: 'local', name: 'app' });
    app.get('/r', async () => 'ok');
    const base = await start(app);

    const replies = await getMany(3, `${base}/r`);
    expect(replies.map((r) => r.status)).toEqual([200, 200, 429]);
    expect(store.calls).toBe(3);

    const failed = storeFailed(lines);
    expect(failed).toHaveLength(1);
    expect(failed[0]).toMatchObject({
      level: 50,
      msg: 'rate limit store failed',
      limiter: 'app',
      failMode: 'local',
      error: 'connection refused',
    });
  });

  it('a route limiter logs through the same logger', async () => {
    const { lines, logger } = collectingLogger();
    const app = fastify({ logger });
    await app.register(rateLimit, { global: false, store: brokenStore(), failMode: 'local' });
    app.get('/r', { config: { rateLimit: { max: 1, window: '1h', name: 'route' } } }, async () => 'ok');
    const base = await start(app);
    expect((await get(`${base}/r`)).status).toBe(200);
    expect(storeFailed(lines)).toEqual([expect.objectContaining({ level: 50, limiter: 'route', failMode: 'local' })]);
  });

  it('the log level of the Fastify logger applies: at fatal the line is not written', async () => {
    const { lines, logger } = collectingLogger('fatal');
    const app = fastify({ logger });
    await app.register(rateLimit, { max: 2, window: '1h', store: brokenStore(), failMode: 'local' });
    app.get('/r', async () => 'ok');
    const base = await start(app);
    expect((await get(`${base}/r`)).status).toBe(200);
    expect(lines).toEqual([]);
  });

  it('an explicit logger option wins over the Fastify logger', async () => {
    const { lines, logger } = collectingLogger();
    const own: string[] = [];
    const log = (_fields: object, message: string) => {
      own.push(message);
    };
    const app = fastify({ logger });
    await app.register(rateLimit, {
      max: 2,
      window: '1h',
      store: brokenStore(),
      failMode: 'local',
      logger: { info: log, warn: log, error: log },
    });
    app.get('/r', async () => 'ok');
    const base = await start(app);
    expect((await get(`${base}/r`)).status).toBe(200);
    expect(own).toEqual(['rate limit store failed']);
    expect(storeFailed(lines)).toEqual([]);
  });
});

describe("failMode 'closed'", () => {
  it('answers 503 with Retry-After and a problem body, and the route handler does not run', async () => {
    const { logger } = collectingLogger();
    const app = fastify({ logger });
    let calls = 0;
    await app.register(rateLimit, { max: 5, window: '1m', store: brokenStore(), failMode: 'closed' });
    app.get('/r', async () => {
      calls += 1;
      return 'ok';
    });
    const r = await get(`${await start(app)}/r`);
    expect(r.status).toBe(503);
    expect(Number(r.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    expect(r.headers.get('content-type')).toMatch(/^application\/problem\+json(;|$)/);
    expect(r.json).toMatchObject({ status: 503 });
    expect(calls).toBe(0);
  });
});
