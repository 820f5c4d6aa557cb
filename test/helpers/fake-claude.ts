import { randomBytes } from 'node:crypto';
import { createServer, type IncomingHttpHeaders, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * A fake Claude Messages API on loopback, for the real `@anthropic-ai/sdk` client:
 *
 *   const fake = await FakeClaude.start();
 *   const anthropic = new Anthropic({ apiKey: 'test', baseURL: fake.url, maxRetries: 0 });
 *   fake.enqueue(reply.rateLimited({ retryAfter: 1 }), reply.ok({ input_tokens: 10 }));
 *
 * `POST /v1/messages` answers from a queue of scripted replies, then from `respond` (if given),
 * then with a 200 message carrying `defaultUsage`. Every request it receives is recorded.
 */

/** A `usage` block as the Messages API reports it. */
export interface FakeUsage {
  input_tokens: number;
  output_tokens: number;
  cache_creation_input_tokens: number;
  cache_read_input_tokens: number;
  cache_creation: { ephemeral_5m_input_tokens: number; ephemeral_1h_input_tokens: number };
}

/** One scripted reply. Every field is optional: the default is a 200 message. */
export interface FakeReply {
  /** HTTP status (default 200). */
  status?: number;
  /** For 200: the usage block, laid over `defaultUsage` (`cache_creation` split included). */
  usage?: Partial<Omit<FakeUsage, 'cache_creation'>> & { cache_creation?: Partial<FakeUsage['cache_creation']> };
  /** For 200: the assistant text. */
  text?: string;
  /** Replaces the whole JSON body (the usage/error fields are then ignored). A string is sent raw. */
  body?: unknown;
  /** For errors: `error.type` (default from the status). */
  errorType?: string;
  /** For errors: `error.details.error_code`. */
  errorCode?: string;
  /** Extra headers, laid over the default rate-limit headers (a value of `null` removes one). */
  headers?: Record<string, string | null>;
  /** The `request-id` header (default a fresh `req_…`). */
  requestId?: string;
  /** Milliseconds to hold the reply. */
  delayMs?: number;
  /**
   * For a 200 to a `stream: true` request (sent as SSE like the real API): after `errorAfter`
   * events an `event: error` (of `errorType`, default overloaded_error) ends the stream; after
   * `cutAfter` events the connection is cut; `eventDelayMs` between events.
   */
  stream?: { errorAfter?: number; errorType?: string; cutAfter?: number; eventDelayMs?: number };
}

/** A request the fake received. */
export interface ReceivedRequest {
  readonly method: string;
  readonly path: string;
  readonly headers: IncomingHttpHeaders;
  /** The parsed JSON body (or the raw text when it is not JSON). */
  readonly body: unknown;
  /** `Date.now()` when it arrived. */
  readonly at: number;
  /** What the fake answered. */
  status: number;
  /** The usage it reported (200 only). */
  usage: FakeUsage | undefined;
}

/** The `anthropic-ratelimit-*` headers the fake sends on every reply unless told otherwise. */
export interface FakeRateLimits {
  requests: { limit: number; remaining: number };
  inputTokens: { limit: number; remaining: number };
  outputTokens: { limit: number; remaining: number };
}

export interface FakeClaudeOptions {
  /** Usage of a 200 reply that does not say (default 25 in, 40 out, no cache). */
  defaultUsage?: Partial<FakeUsage>;
  /** Rate-limit headers (default: generous organisation limits, far above any test's). */
  rateLimits?: FakeRateLimits;
  /** Answers when the queue is empty; undefined falls through to the default 200. */
  respond?: (request: ReceivedRequest) => FakeReply | undefined;
  /**
   * `POST /v1/messages/count_tokens` answers `{ input_tokens }` from this (default 0); return a
   * FakeReply instead to script an error (a 429, say).
   */
  countTokens?: (body: unknown) => number | FakeReply;
}

const ERROR_TYPES: Record<number, string> = {
  400: 'invalid_request_error',
  401: 'authentication_error',
  403: 'permission_error',
  404: 'not_found_error',
  408: 'timeout_error',
  409: 'conflict_error',
  413: 'request_too_large',
  429: 'rate_limit_error',
  500: 'api_error',
  529: 'overloaded_error',
};

const DEFAULT_LIMITS: FakeRateLimits = {
  requests: { limit: 4_000, remaining: 3_999 },
  inputTokens: { limit: 2_000_000, remaining: 2_000_000 },
  outputTokens: { limit: 400_000, remaining: 400_000 },
};

/** Builders for the replies tests script most often. */
export const reply = {
  ok(usage?: FakeReply['usage'], extra: Omit<FakeReply, 'usage'> = {}): FakeReply {
    return { ...extra, status: 200, ...(usage === undefined ? {} : { usage }) };
  },
  /** A rate 429; `retryAfter` seconds and/or `retryAfterMs`, or neither. */
  rateLimited(options: { retryAfter?: number | string; retryAfterMs?: number; errorCode?: string } = {}): FakeReply {
    const headers: Record<string, string> = {};
    if (options.retryAfter !== undefined) headers['retry-after'] = String(options.retryAfter);
    if (options.retryAfterMs !== undefined) headers['retry-after-ms'] = String(options.retryAfterMs);
    return {
      status: 429,
      headers,
      ...(options.errorCode === undefined ? {} : { errorCode: options.errorCode }),
    };
  },
  /** A ramp 429 (`ramp_limit_exceeded`), with a retry-after. */
  ramp(options: { retryAfter?: number; retryAfterMs?: number } = {}): FakeReply {
    return reply.rateLimited({ ...options, errorCode: 'ramp_limit_exceeded' });
  },
  /** A spend-cap 429: never a retry-after. */
  spendCap(errorCode: 'enforced_spend_limit_reached' | 'contract_spend_limit_reached'): FakeReply {
    return { status: 429, errorCode };
  },
  overloaded(headers: Record<string, string> = {}): FakeReply {
    return { status: 529, headers };
  },
  status(status: number, headers: Record<string, string> = {}): FakeReply {
    return { status, headers };
  },
};

export class FakeClaude {
  /** Every request received, in order of arrival. */
  readonly requests: ReceivedRequest[] = [];
  private readonly queue: FakeReply[] = [];
  private readonly batches = new Map<string, { custom_id: string; params: unknown }[]>();
  private defaultUsage: FakeUsage;
  private rateLimits: FakeRateLimits;
  private readonly respond: FakeClaudeOptions['respond'];
  private readonly countTokens: FakeClaudeOptions['countTokens'];

  private constructor(
    private readonly server: Server,
    readonly url: string,
    options: FakeClaudeOptions,
  ) {
    this.defaultUsage = usageOf(options.defaultUsage, undefined);
    this.rateLimits = options.rateLimits ?? DEFAULT_LIMITS;
    this.respond = options.respond;
    this.countTokens = options.countTokens;
  }

  static async start(options: FakeClaudeOptions = {}): Promise<FakeClaude> {
    let fake: FakeClaude | undefined;
    const server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (chunk: Buffer) => chunks.push(chunk));
      req.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        let body: unknown = text;
        try {
          body = text === '' ? undefined : JSON.parse(text);
        } catch {
          // keep the raw text
        }
        void fake?.handle(
          {
            method: req.method ?? 'GET',
            path: (req.url ?? '/').split('?')[0] as string,
            headers: req.headers,
            body,
            at: Date.now(),
            status: 0,
            usage: undefined,
          },
          res,
        );
      });
    });
    server.keepAliveTimeout = 1000;
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    fake = new FakeClaude(server, `http://127.0.0.1:${port}`, options);
    return fake;
  }

  /** Requests to `POST /v1/messages` so far. */
  get calls(): number {
    return this.messages().length;
  }

  /** The `POST /v1/messages` requests received. */
  messages(): ReceivedRequest[] {
    return this.requests.filter((r) => r.method === 'POST' && r.path === '/v1/messages');
  }

  /** Scripts the next replies, in order. */
  enqueue(...replies: FakeReply[]): this {
    this.queue.push(...replies);
    return this;
  }

  /** Replies still queued. */
  get pending(): number {
    return this.queue.length;
  }

  setDefaultUsage(usage: Partial<FakeUsage>): void {
    this.defaultUsage = usageOf(usage, undefined);
  }

  setRateLimits(limits: FakeRateLimits): void {
    this.rateLimits = limits;
  }

  /** Forgets the requests and the queue. */
  clear(): void {
    this.requests.length = 0;
    this.queue.length = 0;
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private async handle(request: ReceivedRequest, res: ServerResponse): Promise<void> {
    this.requests.push(request);
    if (request.method === 'POST' && request.path === '/v1/messages/count_tokens') {
      const counted = this.countTokens?.(request.body) ?? 0;
      const status = typeof counted === 'number' ? 200 : (counted.status ?? 200);
      request.status = status;
      const body =
        typeof counted === 'number'
          ? { input_tokens: counted }
          : errorBody(status, ERROR_TYPES[status] ?? 'api_error', 'fake count_tokens', counted.errorCode, 'req_count');
      this.send(res, status, body, {
        'request-id': `req_${randomBytes(12).toString('hex')}`,
        ...(typeof counted === 'number' ? {} : (counted.headers ?? {})),
      });
      return;
    }
    if (this.batch(request, res)) return;
    if (request.method !== 'POST' || request.path !== '/v1/messages') {
      request.status = 404;
      this.send(res, 404, errorBody(404, 'not_found_error', `No route ${request.path}`, undefined, 'req_404'), {
        'request-id': 'req_404',
      });
      return;
    }
    const scripted = this.queue.shift() ?? this.respond?.(request) ?? {};
    if (scripted.delayMs !== undefined) await new Promise((r) => setTimeout(r, scripted.delayMs));
    const status = scripted.status ?? 200;
    const requestId = scripted.requestId ?? `req_${randomBytes(12).toString('hex')}`;
    const headers: Record<string, string | null> = {
      'request-id': requestId,
      ...this.rateLimitHeaders(),
      ...(scripted.headers ?? {}),
    };
    let body: unknown = scripted.body;
    if (body === undefined && status === 200) {
      const usage = usageOf(scripted.usage, this.defaultUsage);
      request.usage = usage;
      body = message(request.body, usage, scripted.text ?? 'Hello from the fake Claude API.');
    } else if (body === undefined) {
      const type = scripted.errorType ?? ERROR_TYPES[status] ?? (status >= 500 ? 'api_error' : 'invalid_request_error');
      body = errorBody(status, type, `fake ${type}`, scripted.errorCode, requestId);
    }
    request.status = status;
    if (status === 200 && scripted.body === undefined && (request.body as { stream?: unknown })?.stream === true) {
      await this.sendStream(res, body as ReturnType<typeof message>, headers, scripted.stream ?? {});
      return;
    }
    this.send(res, status, body, headers);
  }

  /**
   * The Message Batches API, at once: `POST /v1/messages/batches` answers an ended batch, and
   * `GET …/batches/<id>/results` one succeeded result per request (JSON lines), with `defaultUsage`.
   */
  private batch(request: ReceivedRequest, res: ServerResponse): boolean {
    const results = /^\/v1\/messages\/batches\/([^/]+)\/results$/.exec(request.path);
    const retrieve = /^\/v1\/messages\/batches\/([^/]+)$/.exec(request.path);
    const create = request.method === 'POST' && request.path === '/v1/messages/batches';
    if (create || (request.method === 'GET' && retrieve !== null && this.batches.has(retrieve[1] as string))) {
      const id = create ? `msgbatch_${randomBytes(8).toString('hex')}` : (retrieve?.[1] as string);
      if (create) {
        this.batches.set(id, (request.body as { requests?: { custom_id: string; params: unknown }[] }).requests ?? []);
      }
      const requests = this.batches.get(id) ?? [];
      request.status = 200;
      this.send(
        res,
        200,
        {
          id,
          type: 'message_batch',
          processing_status: 'ended',
          request_counts: { processing: 0, succeeded: requests.length, errored: 0, canceled: 0, expired: 0 },
          results_url: `${this.url}/v1/messages/batches/${id}/results`,
          created_at: new Date().toISOString(),
          ended_at: new Date().toISOString(),
          expires_at: new Date(Date.now() + 86_400_000).toISOString(),
          cancel_initiated_at: null,
          archived_at: null,
        },
        { 'request-id': `req_${randomBytes(12).toString('hex')}` },
      );
      return true;
    }
    if (request.method === 'GET' && results !== null) {
      const lines = (this.batches.get(results[1] as string) ?? []).map((r) =>
        JSON.stringify({
          custom_id: r.custom_id,
          result: { type: 'succeeded', message: message(r.params, this.defaultUsage, 'Batched hello.') },
        }),
      );
      request.status = 200;
      res.statusCode = 200;
      res.setHeader('content-type', 'application/binary');
      res.end(`${lines.join('\n')}\n`);
      return true;
    }
    return false;
  }

  /** The message as the API streams it: message_start … message_stop, the usage split as the API splits it. */
  private async sendStream(
    res: ServerResponse,
    full: ReturnType<typeof message>,
    headers: Record<string, string | null>,
    how: NonNullable<FakeReply['stream']>,
  ): Promise<void> {
    res.statusCode = 200;
    res.setHeader('content-type', 'text/event-stream; charset=utf-8');
    res.setHeader('cache-control', 'no-cache');
    for (const [name, value] of Object.entries(headers)) if (value !== null) res.setHeader(name, value);
    res.flushHeaders();
    const text = full.content[0]?.text ?? '';
    const half = Math.ceil(text.length / 2);
    const events: [string, object][] = [
      [
        'message_start',
        {
          type: 'message_start',
          message: { ...full, content: [], stop_reason: null, usage: { ...full.usage, output_tokens: 1 } },
        },
      ],
      ['content_block_start', { type: 'content_block_start', index: 0, content_block: { type: 'text', text: '' } }],
      ['ping', { type: 'ping' }],
      [
        'content_block_delta',
        { type: 'content_block_delta', index: 0, delta: { type: 'text_delta', text: text.slice(0, half) } },
      ],
      [
        'content_block_delta',
        { type: 'content_block_delta', index: 0, delta: { type: 'text_delta', text: text.slice(half) } },
      ],
      ['content_block_stop', { type: 'content_block_stop', index: 0 }],
      [
        'message_delta',
        {
          type: 'message_delta',
          delta: { stop_reason: 'end_turn', stop_sequence: null },
          usage: { output_tokens: full.usage.output_tokens },
        },
      ],
      ['message_stop', { type: 'message_stop' }],
    ];
    for (const [n, [event, data]] of events.entries()) {
      if (how.errorAfter === n) {
        const type = how.errorType ?? 'overloaded_error';
        const error = { type: 'error', error: { type, message: `fake ${type} mid-stream` } };
        res.end(`event: error\ndata: ${JSON.stringify(error)}\n\n`);
        return;
      }
      if (how.cutAfter === n) {
        res.socket?.destroy();
        return;
      }
      if (how.eventDelayMs !== undefined && n > 0) await new Promise((r) => setTimeout(r, how.eventDelayMs));
      // Each event flushed before the next step, so a cut comes after the events sent before it.
      await new Promise<void>((resolve) =>
        res.write(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`, () => resolve()),
      );
    }
    res.end();
  }

  private send(res: ServerResponse, status: number, body: unknown, headers: Record<string, string | null>): void {
    const text = typeof body === 'string' ? body : JSON.stringify(body);
    res.statusCode = status;
    res.setHeader('content-type', 'application/json');
    for (const [name, value] of Object.entries(headers)) if (value !== null) res.setHeader(name, value);
    res.end(text);
  }

  private rateLimitHeaders(): Record<string, string> {
    const out: Record<string, string> = {};
    const put = (name: string, { limit, remaining }: { limit: number; remaining: number }) => {
      // When the bucket is full again, refilling its limit per minute (as the API says it).
      const fullAt = Date.now() + (Math.max(0, limit - remaining) / limit) * 60_000;
      out[`anthropic-ratelimit-${name}-limit`] = String(limit);
      out[`anthropic-ratelimit-${name}-remaining`] = String(remaining);
      out[`anthropic-ratelimit-${name}-reset`] = new Date(fullAt).toISOString().replace(/\.\d{3}Z$/, 'Z');
    };
    const { requests, inputTokens, outputTokens } = this.rateLimits;
    put('requests', requests);
    // The API rounds token remainders to the nearest thousand.
    put('input-tokens', { limit: inputTokens.limit, remaining: Math.round(inputTokens.remaining / 1000) * 1000 });
    put('output-tokens', { limit: outputTokens.limit, remaining: Math.round(outputTokens.remaining / 1000) * 1000 });
    const tightest = inputTokens.remaining / inputTokens.limit <= outputTokens.remaining / outputTokens.limit;
    const t = tightest ? inputTokens : outputTokens;
    put('tokens', { limit: t.limit, remaining: Math.round(t.remaining / 1000) * 1000 });
    return out;
  }
}

function usageOf(given: FakeReply['usage'] | undefined, base: FakeUsage | undefined): FakeUsage {
  const from = base ?? {
    input_tokens: 25,
    output_tokens: 40,
    cache_creation_input_tokens: 0,
    cache_read_input_tokens: 0,
    cache_creation: { ephemeral_5m_input_tokens: 0, ephemeral_1h_input_tokens: 0 },
  };
  const split = { ...from.cache_creation, ...(given?.cache_creation ?? {}) };
  const usage: FakeUsage = { ...from, ...(given ?? {}), cache_creation: split };
  // Keep the total consistent with the split unless the test set both on purpose.
  if (given?.cache_creation !== undefined && given.cache_creation_input_tokens === undefined) {
    usage.cache_creation_input_tokens = split.ephemeral_5m_input_tokens + split.ephemeral_1h_input_tokens;
  }
  return usage;
}

function message(request: unknown, usage: FakeUsage, text: string) {
  const model = (request as { model?: unknown } | undefined)?.model;
  return {
    id: `msg_${randomBytes(12).toString('hex')}`,
    type: 'message',
    role: 'assistant',
    model: typeof model === 'string' ? model : 'claude-sonnet-4-5',
    content: [{ type: 'text', text }],
    stop_reason: 'end_turn',
    stop_sequence: null,
    usage: { ...usage, service_tier: 'standard' },
  };
}

function errorBody(status: number, type: string, text: string, errorCode: string | undefined, requestId: string) {
  return {
    type: 'error',
    error: {
      type,
      message: `${text} (${status})`,
      ...(errorCode === undefined ? {} : { details: { error_code: errorCode } }),
    },
    request_id: requestId,
  };
}
