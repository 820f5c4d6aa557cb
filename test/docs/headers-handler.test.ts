import { readFileSync } from 'node:fs';
import { rateLimit } from '@tollgate/express';
import express from 'express';
import { describe, expect, it } from 'vitest';
import { closeServersAfterEach, get, manualClock, serve } from '../express/support.js';

closeServersAfterEach();

const headersDoc = readFileSync(new URL('../../docs/headers.md', import.meta.url), 'utf8');

/** The paragraph of docs/headers.md that introduces `handler`, with its Express snippet. */
function handlerSection(): string {
  const start = headersDoc.indexOf('To send something else on a 429, give `handler`.');
  const end = headersDoc.indexOf("Koa's handler is", start);
  expect(start).toBeGreaterThanOrEqual(0);
  expect(end).toBeGreaterThan(start);
  return headersDoc.slice(start, end);
}

describe("docs/headers.md on Express's `handler` (issue 12, item 9)", () => {
  it('an Express handler gets the response with status 429 already set: a body alone is a 429', async () => {
    const seen: number[] = [];
    const app = express();
    app.use(
      rateLimit({
        max: 1,
        window: '1m',
        store: manualClock().store,
        // As the docs' snippet: no res.status() call.
        handler: (_req, res, _next, decision) => {
          seen.push(res.statusCode);
          res.json({ error: 'slow_down', retryInMs: decision.retryAfterMs });
        },
      }),
    );
    app.get('/', (_req, res) => {
      res.send('ok');
    });
    const url = await serve(app);
    expect((await get(url)).status).toBe(200);
    const refused = await get(url);
    expect(refused.status).toBe(429);
    expect(refused.json).toEqual({ error: 'slow_down', retryInMs: 60_000 });
    expect(seen).toEqual([429]);
  });

  it('says so, and its snippet does not set the status (it said "set the status yourself")', () => {
    const section = handlerSection();
    expect(section).not.toMatch(/set the\s+status yourself/);
    expect(section).toMatch(/`res\.statusCode` already 429/);
    expect(section).not.toContain('res.status(429)');
  });
});
