/** Why a Claude API call failed, as far as retrying is concerned. */
export type FailureKind =
  | 'rate'
  | 'ramp'
  | 'spend-cap'
  | 'overloaded'
  | 'server'
  | 'timeout'
  | 'conflict'
  | 'connection'
  | 'client';

export interface Failure {
  readonly kind: FailureKind;
  readonly status: number | undefined;
  readonly retry: boolean;
  /** Milliseconds the server asked to wait (`retry-after-ms`, else `retry-after`), if it said. */
  readonly retryAfterMs: number | undefined;
  readonly errorCode: string | undefined;
  readonly requestId: string | undefined;
}

const SPEND_CAPS = new Set(['enforced_spend_limit_reached', 'contract_spend_limit_reached']);
/** Error event types a stream may send in place of an HTTP status, as their statuses would be classified. */
const STREAM_ERROR_KINDS: Readonly<Record<string, FailureKind>> = Object.assign(Object.create(null), {
  overloaded_error: 'overloaded',
  api_error: 'server',
  rate_limit_error: 'rate',
  timeout_error: 'timeout',
});

type HeaderSource = { get(name: string): string | null } | Record<string, unknown> | undefined;

/** A header from the SDK's `Headers` or from a plain record. */
export function headerValue(headers: HeaderSource, name: string): string | undefined {
  if (headers === undefined || headers === null) return undefined;
  if (typeof (headers as { get?: unknown }).get === 'function') {
    return (headers as { get(name: string): string | null }).get(name) ?? undefined;
  }
  const value = (headers as Record<string, unknown>)[name];
  return typeof value === 'string' ? value : undefined;
}

function retryAfterMs(headers: HeaderSource): number | undefined {
  const ms = Number(headerValue(headers, 'retry-after-ms'));
  if (headerValue(headers, 'retry-after-ms') !== undefined && Number.isFinite(ms) && ms >= 0) return ms;
  const raw = headerValue(headers, 'retry-after');
  if (raw === undefined) return undefined;
  const seconds = Number(raw);
  if (Number.isFinite(seconds) && seconds >= 0) return seconds * 1000;
  const date = Date.parse(raw);
  return Number.isNaN(date) ? undefined : Math.max(0, date - Date.now());
}

/**
 * Classifies an error thrown by a Claude API call (the official SDK's `APIError`, or anything
 * with `status`, `headers` and the error body). `x-should-retry` from the server wins over the
 * status rules; a spend-cap 429 is never retried.
 */
export function classifyFailure(error: unknown): Failure {
  const e = (typeof error === 'object' && error !== null ? error : {}) as Record<string, unknown>;
  const status = typeof e.status === 'number' ? e.status : undefined;
  const headers = e.headers as HeaderSource;
  const body = e.error as { error?: { type?: unknown; details?: { error_code?: unknown } } } | undefined;
  const code = typeof e.errorCode === 'string' ? e.errorCode : body?.error?.details?.error_code;
  const errorCode = typeof code === 'string' ? code : undefined;
  const requestId = typeof e.requestID === 'string' ? e.requestID : headerValue(headers, 'request-id');

  // A stream's `event: error` has no HTTP status (the response was a 200): its body's type says it.
  const streamed = status === undefined ? STREAM_ERROR_KINDS[String(body?.error?.type)] : undefined;
  let kind: FailureKind;
  if (streamed !== undefined) kind = streamed;
  else if (status === undefined) kind = isConnectionError(e) ? 'connection' : 'client';
  else if (status === 429)
    kind = errorCode && SPEND_CAPS.has(errorCode) ? 'spend-cap' : errorCode === 'ramp_limit_exceeded' ? 'ramp' : 'rate';
  else if (status === 529) kind = 'overloaded';
  else if (status >= 500) kind = 'server';
  else if (status === 408) kind = 'timeout';
  else if (status === 409) kind = 'conflict';
  else kind = 'client';

  let retry = kind !== 'client' && kind !== 'spend-cap';
  const should = headerValue(headers, 'x-should-retry');
  if (kind !== 'spend-cap' && should === 'true') retry = true;
  if (should === 'false') retry = false;
  // A user abort is not a failure to retry.
  if (status === undefined && (e.name === 'APIUserAbortError' || e.name === 'AbortError')) retry = false;
  return { kind, status, retry, retryAfterMs: retryAfterMs(headers), errorCode, requestId };
}

const CONNECTION_CODES = new Set(['ECONNRESET', 'ECONNREFUSED', 'ETIMEDOUT', 'EPIPE', 'EAI_AGAIN', 'UND_ERR_SOCKET']);

/**
 * The SDK's connection errors, or a socket error from the network: worth retrying. Anything else
 * without an HTTP status (a TypeError in the caller's callback, say) is a bug, not a blip.
 */
function isConnectionError(e: Record<string, unknown>): boolean {
  const kind = typeof e.name === 'string' && e.name !== 'Error' ? e.name : (e.constructor as { name?: string }).name;
  if (kind === 'APIConnectionError' || kind === 'APIConnectionTimeoutError') return true;
  const code = e.code ?? (e.cause as { code?: unknown } | undefined)?.code;
  return typeof code === 'string' && CONNECTION_CODES.has(code);
}

/** When a spend cap lifts: 00:00 UTC on the first day of the next month. */
export function nextMonthStartUtc(now: number): number {
  const d = new Date(now);
  return Date.UTC(d.getUTCFullYear(), d.getUTCMonth() + 1, 1);
}
