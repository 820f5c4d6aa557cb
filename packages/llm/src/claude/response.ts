import { headerValue } from './retry-policy.js';

/** The response's usage, headers and request id, from a Message or from `.withResponse()`'s `{ data, response }`. */
export function unpackClaude(result: unknown): { usage: unknown; headers: unknown; requestId: string | undefined } {
  const r = (typeof result === 'object' && result !== null ? result : {}) as Record<string, unknown>;
  const withResponse = 'data' in r && typeof r.response === 'object' && r.response !== null;
  const message = (withResponse ? r.data : r) as Record<string, unknown> | undefined;
  const headers = withResponse ? (r.response as { headers?: unknown }).headers : undefined;
  const id =
    (withResponse ? r.request_id : undefined) ?? message?._request_id ?? headerValue(headers as never, 'request-id');
  return { usage: message?.usage, headers, requestId: typeof id === 'string' ? id : undefined };
}

/**
 * What the `anthropic-ratelimit-*-remaining` headers say is left of [requests, input tokens,
 * output tokens]; undefined for one it did not say, or for all when it said nothing.
 */
export function claudeRemaining(headers: unknown): (number | undefined)[] | undefined {
  let any = false;
  const left = ['requests', 'input-tokens', 'output-tokens'].map((name) => {
    const raw = headerValue(headers as never, `anthropic-ratelimit-${name}-remaining`);
    const n = raw === undefined ? Number.NaN : Number(raw);
    if (!Number.isFinite(n) || n < 0) return undefined;
    any = true;
    return n;
  });
  return any ? left : undefined;
}
