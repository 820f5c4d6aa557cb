import type { TokenCounts } from './tokens.js';

/**
 * Everything the engine needs to know about one LLM API; the engine itself knows none of it.
 * `claude/provider.ts` is the Claude one; a provider for another API implements the same.
 */
export interface LlmProvider {
  /** The API's name in log lines, e.g. `Claude API`. */
  readonly label: string;
  /** The family whose limits and buckets a model shares (a model id names its own family). */
  family(model: string): string;
  /** The model id as it may stand in a ledger field or a metric label (anything else is replaced). */
  safeModelId(model: string): string;
  /** Input tokens a request will likely count, when the caller did not say. */
  estimateInput(request: unknown): number;
  /**
   * The most input tokens the request can count: what spend budgets hold when the caller did not
   * give `inputTokens`. Left out, budgets hold the estimate (which is then no bound).
   */
  maxInput?(request: unknown): number;
  /** A response's usage as token counts; throws `TOLLGATE_INVALID_USAGE` when malformed. */
  tokenCounts(usage: unknown): TokenCounts;
  /** Of those, the input that counts against the input-token limit. */
  rateLimitedInput(tokens: TokenCounts): number;
  /** The cost in micro-USD, and whether the model has a price (unpriced calls cost 0). */
  price(model: string, tokens: TokenCounts, batch: boolean): { micros: number; priced: boolean };
  /**
   * What a call counts against spend budgets, in micro-USD: its price, or for a model without one
   * a conservative guess. Left out, an unpriced model counts 0 against budgets.
   */
  budgetPrice?(model: string, tokens: TokenCounts, batch: boolean): number;
  /** Why a call failed, as far as retrying is concerned. */
  classify(error: unknown, now: number): CallFailure;
  /** A call's result: its usage, the response headers and the request id, when it has them. */
  unpack(result: unknown): { usage: unknown; headers: unknown; requestId: string | undefined };
  /**
   * What the server's response headers say is left of [requests, input tokens, output tokens]:
   * undefined for a bucket it said nothing about, or for all when it said nothing.
   */
  remaining(headers: unknown): readonly (number | undefined)[] | undefined;
  /**
   * The limits per minute the server's headers report for [requests, input tokens, output
   * tokens]; one below the configured limit is used instead of it. Optional.
   */
  limits?(headers: unknown): readonly (number | undefined)[] | undefined;
  /** Ms until the server says each bucket is full again (its reset time). Optional. */
  untilFull?(headers: unknown): readonly (number | undefined)[] | undefined;
  /**
   * When `result` is a streamed response, watches it without taking it from the caller: the
   * promise settles at its first event (rejecting with an error that came before any, and then
   * `onEnd` is never called); `onEnd` gets what the events reported once the stream is over.
   * Undefined when `result` is not a stream. A provider without streaming leaves it out.
   */
  watchStream?(result: unknown, onEnd: (end: StreamEnd) => Promise<void>): Promise<void> | undefined;
  /**
   * The bucket size of a limit the caller gave no `burst` for (default: the whole minute), as
   * the API enforces it over shorter windows. Optional.
   */
  defaultBurst?(kind: 'rpm' | 'itpm' | 'otpm', perMinute: number): number;
  /** Where the limiter's counts go. */
  readonly metrics: LlmMetrics;
}

/** How a watched stream ended. */
export interface StreamEnd {
  /** The usage its events reported (undefined when none did). */
  readonly usage: unknown;
  /** The error that ended it early (a mid-stream error event, a cut connection, an abort). */
  readonly error: unknown;
  /** Whether it ran to its end (false when cut off, failed or left by the reader). */
  readonly complete: boolean;
  readonly headers: unknown;
  readonly requestId: string | undefined;
}

/** A failed call, classified by the provider. */
export interface CallFailure {
  /** The reason, as a metric label (`rate`, `overloaded`, …). */
  readonly kind: string;
  readonly retry: boolean;
  /** What the server asked to wait, in ms, if it said. */
  readonly retryAfterMs: number | undefined;
  /** The account's spend cap is reached: every call is refused until `until` (ms). */
  readonly spendCap?: { readonly errorCode: string; readonly until: number } | undefined;
  /** The server asks for a slower ramp-up: the admission rate halves. */
  readonly ramp?: boolean | undefined;
  /** A quota refusal: every call of the model's family waits this long (ms), in every process. */
  readonly pauseMs?: number | undefined;
}

/** Outcomes of one `run`: `success`, `error` (not retried or out of retries), `spend_cap`. */
export type CallOutcome = 'success' | 'error' | 'spend_cap';

/** What a write after a call keeps: the usage `ledger`, the spend `budget`, the rate-limit `buckets`. */
export type StoreWrite = 'ledger' | 'budget' | 'buckets';

/** The counts a limiter keeps; never throws (telemetry never breaks a call). */
export interface LlmMetrics {
  /** A limiter exists: its families appear now. */
  init(): void;
  call(model: string, outcome: CallOutcome): void;
  usage(model: string, tokens: TokenCounts, micros: number, priced: boolean): void;
  retry(model: string, reason: string): void;
  wait(model: string): void;
  storeWriteFailed(model: string, write: StoreWrite): void;
}
