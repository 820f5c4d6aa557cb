// An Express endpoint that forwards Messages API calls to Claude through ClaudeRateLimiter.run:
// the organisation's per-family limits are kept across every instance (on Redis when REDIS_URL
// is set), retries follow the API's rules, and every call is priced into a usage ledger.
//   POST /v1/messages   the Messages API, proxied (`"stream": true` answers as server-sent events)
//   GET  /usage         the cost and token report (?days=7)
//   GET  /metrics       Prometheus: calls, tokens, cost, retries, waits, and HTTP latency
// With no ANTHROPIC_API_KEY it starts a fake Claude API on loopback and talks to that.
import Anthropic from '@anthropic-ai/sdk';
import { ErrorCodes, RateLimitExceededError, TollgateError } from '@tollgate/core';
import { metricsHandler, rateLimit, telemetry } from '@tollgate/express';
import { ClaudeRateLimiter, SpendCapError } from '@tollgate/llm';
import express from 'express';
import { Redis } from 'ioredis';
import { startFakeClaudeApi } from './fake-claude-api.js';

export async function start({ port = 0, host = '127.0.0.1' } = {}) {
  const fake = process.env.ANTHROPIC_API_KEY ? undefined : await startFakeClaudeApi();
  // run() owns retries, so the SDK's own are off.
  const anthropic = new Anthropic({
    apiKey: process.env.ANTHROPIC_API_KEY ?? 'no-key-needed-for-the-fake-api',
    maxRetries: 0,
    ...(fake ? { baseURL: fake.url } : {}),
  });
  const redis = process.env.REDIS_URL ? new Redis(process.env.REDIS_URL) : undefined;
  const claude = new ClaudeRateLimiter({
    ...(redis ? { redis } : {}),
    limits: { '*': { rpm: 50, itpm: 30_000, otpm: 8_000 } },
  });

  const app = express();
  app.use(telemetry());
  app.get('/metrics', metricsHandler());
  app.get('/usage', async (req, res, next) => {
    try {
      res.json(await claude.getUsageStats({ days: Number(req.query.days ?? 7) }));
    } catch (error) {
      next(error); // ?days=abc: TOLLGATE_INVALID_OPTION, answered 400 below
    }
  });
  app.post(
    '/v1/messages',
    rateLimit({ max: 60, window: '1m', key: 'token' }),
    express.json(),
    async (req, res, next) => {
      if (typeof req.body !== 'object' || req.body === null || Array.isArray(req.body)) {
        problem(res, 400, 'invalid-request', 'The body must be a Messages API request (a JSON object).');
        return;
      }
      try {
        if (req.body.stream === true) {
          await relayStream(
            res,
            await claude.run(req.body.model, req.body, (params) => anthropic.messages.create(params)),
          );
          return;
        }
        const { data } = await claude.run(req.body.model, req.body, (params) =>
          anthropic.messages.create(params).withResponse(),
        );
        res.json(data);
      } catch (error) {
        if (res.headersSent) {
          res.end(); // an error after the first event: the stream already told the client
          return;
        }
        if (error instanceof RateLimitExceededError) {
          res.status(429).set('Retry-After', String(error.retryAfter)).json({ error: 'rate limited upstream budget' });
        } else if (error instanceof SpendCapError) {
          res.status(402).json({ error: error.message });
        } else if (typeof error?.status === 'number') {
          res.status(error.status).json(error.error ?? { error: error.message });
        } else next(error);
      }
    },
  );
  // Bad input is the client's (400); anything else a 500. Either way problem+json, never a stack.
  app.use((error, _req, res, _next) => {
    const invalid = [ErrorCodes.INVALID_MODEL, ErrorCodes.INVALID_OPTION, ErrorCodes.INVALID_USAGE];
    if (error instanceof TollgateError && invalid.includes(error.code)) {
      problem(res, 400, 'invalid-request', error.message, error.code);
    } else if (error?.type === 'entity.parse.failed' || error?.status === 400) {
      problem(res, 400, 'invalid-request', 'The body is not valid JSON.');
    } else {
      problem(res, 500, 'internal-error', 'The proxy failed; see its log.');
      console.error(error);
    }
  });

  const server = app.listen(port, host);
  await new Promise((resolve) => server.once('listening', resolve));
  return {
    url: `http://${host}:${server.address().port}`,
    close: async () => {
      server.close();
      await fake?.close();
      redis?.disconnect();
    },
  };
}

/** An RFC 9457 problem details answer. */
function problem(res, status, type, detail, code) {
  res
    .status(status)
    .type('application/problem+json')
    .send(
      JSON.stringify({
        type: `https://tollgate.dev/problems/${type}`,
        title: detail,
        status,
        detail,
        ...(code ? { code } : {}),
      }),
    );
}

/**
 * Passes a streamed answer through as server-sent events, as the API sent them. run() has read
 * the first event already (a 429 before it was retried); the limiter settles the call from the
 * stream's usage events once it is over. A client that goes away aborts the upstream request.
 */
async function relayStream(res, stream) {
  res.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache' });
  res.on('close', () => stream.controller.abort());
  try {
    for await (const event of stream) res.write(`event: ${event.type}\ndata: ${JSON.stringify(event)}\n\n`);
  } catch (error) {
    const body = error?.error ?? { type: 'error', error: { type: 'api_error', message: 'upstream stream failed' } };
    res.write(`event: error\ndata: ${JSON.stringify(body)}\n\n`);
  }
  res.end();
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const { url } = await start({ port: Number(process.env.PORT ?? 3000), host: '0.0.0.0' });
  console.log(`LLM proxy on ${url}: POST /v1/messages, GET /usage, GET /metrics`);
  if (!process.env.ANTHROPIC_API_KEY)
    console.log('(no ANTHROPIC_API_KEY: answering from a fake Claude API on loopback)');
}
