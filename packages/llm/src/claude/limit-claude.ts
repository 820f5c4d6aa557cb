import { InvalidOptionError } from '@tollgate/core';
import { assertKnownOptions, assertOptionsObject } from '@tollgate/core/adapter';
import { backoffMs } from '../engine/backoff.js';
import type { ClaudeRateLimiter } from './claude-rate-limiter.js';
import { classifyFailure } from './retry-policy.js';
import { sseEvents } from './stream-sse.js';

/**
 * The part of an official SDK client (`@anthropic-ai/sdk` 1.14 and later) that `limitClaude`
 * uses: `withOptions()` and the client middleware hook. Structural, so this package does not
 * depend on the SDK.
 */
export interface ClaudeClientLike<C> {
  /** Called with `{ maxRetries: 0, middleware: [...its own, the limiter's] }` (typed `never`: any SDK version's options fit). */
  withOptions(options: never): C;
  readonly middleware?: readonly unknown[] | undefined;
}

/** An SDK client middleware, as `@anthropic-ai/sdk` declares it (`Middleware`). */
export type SdkMiddleware = (
  request: SdkRequest,
  next: (request: SdkRequest) => Promise<Response>,
  context: { readonly options?: { readonly body?: unknown } | undefined },
) => Promise<Response>;

/** The request a middleware sees: fetch's `RequestInit` with its URL. */
export interface SdkRequest {
  readonly url: string;
  readonly method?: string | undefined;
  readonly body?: unknown;
  readonly headers?: unknown;
}

/** Per-client choices: whose budget the calls count against, and how long they may wait. */
export interface LimitClaudeOptions {
  /** Every call of this client counts against this tenant's budgets. */
  tenant?: string;
  /** Overrides the limiter's `maxWaitMs` for this client's calls. */
  waitMs?: number;
}

/** An HTTP error answer, thrown inside run() so its rules (retry, spend cap) apply to it. */
class ErrorAnswer extends Error {
  constructor(
    readonly response: Response,
    readonly status: number,
    readonly headers: Headers,
    readonly error: unknown,
  ) {
    super(`Claude API answered ${status}`);
    this.name = 'ErrorAnswer';
  }
}

const MESSAGES = /\/v1\/messages$/;
const COUNT_TOKENS = /\/v1\/messages\/count_tokens$/;
const BATCH_RESULTS = /\/v1\/messages\/batches\/([A-Za-z0-9_-]{1,128})\/results$/;
const BATCHES = /\/v1\/messages\/batches$/;

/**
 * Returns a copy of an Anthropic client whose calls go through `limiter`, without changing call
 * sites: `messages.create` (streamed or not) and `messages.stream` are admitted against the
 * model family's limits and budgets, retried by the limiter (the copy's own `maxRetries` is 0),
 * settled and recorded, streams from their usage events; `messages.countTokens` and
 * `messages.batches.create` are retried; the results of a batch (`messages.batches.results`)
 * are recorded at batch prices as they are read, each result once. Built on the SDK's client
 * middleware, so it sees each HTTP attempt.
 *
 * @example
 * const anthropic = limitClaude(new Anthropic(), new ClaudeRateLimiter({ redis }));
 * const message = await anthropic.messages.create({ model: 'claude-sonnet-4-5', max_tokens: 256, messages });
 */
export function limitClaude<C extends ClaudeClientLike<C>>(
  client: C,
  limiter: ClaudeRateLimiter,
  options: LimitClaudeOptions = {},
): C {
  if (typeof client?.withOptions !== 'function') {
    throw new InvalidOptionError(
      'client',
      client,
      'accepted: an Anthropic client of @anthropic-ai/sdk 1.14 or later (it has withOptions() and middleware)',
    );
  }
  const given = assertOptionsObject(options, 'limitClaude options');
  assertKnownOptions(given, new Set(['tenant', 'waitMs']), 'limitClaude');
  const estimate = {
    ...(options.tenant === undefined ? {} : { tenant: options.tenant }),
    ...(options.waitMs === undefined ? {} : { waitMs: options.waitMs }),
  };
  const limit: SdkMiddleware = async (request, next, context) => {
    const path = new URL(request.url).pathname;
    const post = (request.method ?? 'GET').toUpperCase() === 'POST';
    if (post && MESSAGES.test(path)) return message(limiter, request, next, body(request, context), estimate);
    if (post && (COUNT_TOKENS.test(path) || BATCHES.test(path))) return retried(request, next);
    const batch = BATCH_RESULTS.exec(path);
    if (!post && batch !== null) return batchResults(limiter, await next(request), batch[1] as string);
    return next(request);
  };
  const middleware = [...(client.middleware ?? []), limit];
  return client.withOptions({ maxRetries: 0, middleware } as never);
}

function body(request: SdkRequest, context: { readonly options?: { readonly body?: unknown } | undefined }) {
  const given = context.options?.body;
  if (typeof given === 'object' && given !== null) return given as Record<string, unknown>;
  try {
    return typeof request.body === 'string' ? (JSON.parse(request.body) as Record<string, unknown>) : {};
  } catch {
    return {};
  }
}

/** One attempt: the response, or an ErrorAnswer for a status that is not 2xx. */
async function attempt(request: SdkRequest, next: (request: SdkRequest) => Promise<Response>): Promise<Response> {
  const response = await next(request);
  if (response.ok) return response;
  let parsed: unknown;
  try {
    parsed = await response.clone().json();
  } catch {
    parsed = undefined;
  }
  throw new ErrorAnswer(response, response.status, response.headers, parsed);
}

/** An error answer after the last attempt goes back to the SDK, which throws its own typed error. */
function answered(error: unknown): Response {
  if (error instanceof ErrorAnswer) return error.response;
  throw error;
}

async function message(
  limiter: ClaudeRateLimiter,
  request: SdkRequest,
  next: (request: SdkRequest) => Promise<Response>,
  params: Record<string, unknown>,
  estimate: { tenant?: string; waitMs?: number },
): Promise<Response> {
  const streamed = params.stream === true;
  let forSdk: Response | undefined;
  try {
    const result = await limiter.run(
      params.model as string,
      params as { max_tokens?: number },
      async () => {
        const response = await attempt(request, next);
        if (!streamed || response.body === null) {
          forSdk = response;
          return { data: await response.clone().json(), response };
        }
        // The SDK reads one branch; the limiter reads the other for the usage events.
        const [mine, theirs] = response.body.tee();
        forSdk = new Response(theirs, response);
        return { data: sseEvents(mine, response.headers), response, request_id: response.headers.get('request-id') };
      },
      estimate,
    );
    if (streamed) void drain(result.data as AsyncIterable<unknown>);
    return forSdk as Response;
  } catch (error) {
    return answered(error);
  }
}

/** Reads the limiter's branch of a stream to its end, which settles the call. */
async function drain(events: AsyncIterable<unknown>): Promise<void> {
  try {
    for await (const _ of events) {
      // the limiter's watch sees each event
    }
  } catch {
    // the SDK's branch reports the same error to the caller
  }
}

/**
 * count_tokens and batches.create: nothing to admit against the family's per-minute limits (a
 * batch runs against its own queue, count_tokens is free), but retried by the same rules.
 */
async function retried(request: SdkRequest, next: (request: SdkRequest) => Promise<Response>): Promise<Response> {
  for (let retry = 0; ; retry++) {
    try {
      return await attempt(request, next);
    } catch (error) {
      const failure = classifyFailure(error);
      if (!failure.retry || retry >= SIDE_RETRIES) return answered(error);
      await sleep(failure.retryAfterMs ?? backoffMs(retry, 500, 8_000));
    }
  }
}

/** Retries of the calls that are not admitted against a family (as the SDK's default, and two more). */
const SIDE_RETRIES = 4;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * A batch's results (JSON lines, one per request): each succeeded result is recorded at batch
 * prices as the SDK reads it, under `<batch id>:<custom_id>`, so reading the results twice
 * records them once.
 */
function batchResults(limiter: ClaudeRateLimiter, response: Response, batchId: string): Response {
  if (!response.ok || response.body === null) return response;
  const [mine, theirs] = response.body.tee();
  void (async () => {
    const reader = mine.pipeThrough(new TextDecoderStream()).getReader();
    let buffer = '';
    const record = async (line: string) => {
      let result: { custom_id?: unknown; result?: { type?: unknown; message?: { model?: unknown; usage?: unknown } } };
      try {
        result = JSON.parse(line);
      } catch {
        return;
      }
      const m = result.result?.message;
      if (result.result?.type !== 'succeeded' || typeof m?.model !== 'string' || m.usage === undefined) return;
      const requestId = `${batchId}:${String(result.custom_id)}`;
      await limiter.recordUsage(m.model, m.usage as never, { batch: true, requestId }).catch(() => undefined);
    };
    try {
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        buffer += value;
        const lines = buffer.split('\n');
        buffer = lines.pop() ?? '';
        for (const line of lines) if (line.trim() !== '') await record(line);
      }
      if (buffer.trim() !== '') await record(buffer);
    } catch {
      // the SDK's branch reports a failed read to the caller
    }
  })();
  return new Response(theirs, response);
}
