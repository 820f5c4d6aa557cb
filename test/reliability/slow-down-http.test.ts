import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { register } from '@tollgate/core';
import { rateLimit } from '@tollgate/express';
import express from 'express';
import { afterEach, describe, expect, it } from 'vitest';

/**
 * Issue 16 item 6 over real HTTP: a request beyond the bucket waits for its token; a client that
 * disconnects while waiting leaves the line (the next takes its place) and takes nothing; the
 * wait is in Server-Timing and tollgate_ratelimit_delay_seconds.
 */
const servers: Array<{ close(): void }> = [];
afterEach(() => {
  for (const s of servers.splice(0)) s.close();
});

async function serve(options: Parameters<typeof rateLimit>[0]) {
  const app = express();
  const limit = rateLimit(options);
  let handled = 0;
  app.use(limit);
  app.get('/', (_req, res) => {
    handled += 1;
    res.json({ ok: true });
  });
  const server = app.listen(0, '127.0.0.1');
  await once(server, 'listening');
  servers.push(server);
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/`, limit, handled: () => handled };
}

async function delayCount(limiter: string): Promise<number> {
  const metrics = await register.getMetricsAsJSON();
  const family = metrics.find((m) => m.name === 'tollgate_ratelimit_delay_seconds');
  const count = family?.values.find(
    (v) =>
      (v as { metricName?: string }).metricName === 'tollgate_ratelimit_delay_seconds_count' &&
      v.labels.limiter === limiter,
  );
  return count?.value ?? 0;
}

describe('slowDown over HTTP (Express)', () => {
  it('a client that disconnects while waiting gives its place back: the next in line gets the token, and the one who left took none', async () => {
    // One token every 300 ms, and nothing in the bucket once the first request has it.
    const app = await serve({ name: 'slow-abort', max: 1, window: 300, slowDown: { maxDelay: '5s' } });
    expect((await fetch(app.url)).status).toBe(200);
    const leaving = new AbortController();
    const gone = fetch(app.url, { signal: leaving.signal }).catch((error: unknown) => error);
    await new Promise((r) => setTimeout(r, 30)); // first in line
    const next = fetch(app.url);
    await new Promise((r) => setTimeout(r, 30));
    expect(app.limit.limiter.waiting).toBe(2);
    leaving.abort();
    expect(await gone).toBeInstanceOf(Error);
    // The server hears the close and takes the request out of the line.
    while (app.limit.limiter.waiting !== 1) await new Promise((r) => setTimeout(r, 5));
    const reply = await next;
    expect(reply.status).toBe(200);
    expect(reply.headers.get('server-timing')).toMatch(/^ratelimit-delay;dur=\d+$/);
    expect(app.limit.limiter.waiting).toBe(0);
    expect(app.handled()).toBe(2);
    // Nobody holds a token: the bucket is empty (the one admitted took it), not below empty.
    const status = await app.limit.limiter.peek('127.0.0.1');
    expect(status.remaining).toBe(0);
    expect(status.retryAfterMs).toBeLessThanOrEqual(300);
    expect(await delayCount('slow-abort')).toBe(1);
  });

  it('waits beyond maxDelay are refused with 429, and only the admitted waits are observed', async () => {
    const app = await serve({ name: 'slow-max', max: 2, window: 1000, burst: 1, slowDown: { maxDelay: 700 } });
    // Tokens every 500 ms: the second waits about 500 ms, the third would wait about 1000 ms.
    const replies = await Promise.all([fetch(app.url), fetch(app.url), fetch(app.url)]);
    expect(replies.map((r) => r.status).sort()).toEqual([200, 200, 429]);
    expect(await delayCount('slow-max')).toBe(1);
  });
});
