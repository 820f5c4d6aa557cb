import { InvalidOptionError } from '@tollgate/core';
import { TOKEN_KINDS, type TokenCounts } from '../engine/tokens.js';
import { BATCH_DISCOUNT, DEFAULT_PRICES, type ModelPrice } from './prices.js';

export type PriceTable = Readonly<Record<string, ModelPrice>>;

/** `claude-opus-4-1-20250805` and `claude-opus-4-1-latest` are priced as `claude-opus-4-1`. */
export function baseModelId(model: string): string {
  return model.replace(/-(\d{8}|latest)$/, '');
}

const SAFE_MODEL = /^[A-Za-z0-9._-]{1,64}$/;

/** A model id fit for a ledger field or a metric label; anything else (client input?) is not. */
export function safeModelId(model: string): string {
  return typeof model === 'string' && SAFE_MODEL.test(model) ? model : 'invalid-model-id';
}

/** The default table with the caller's entries laid over it, each checked. */
export function priceTable(overrides: unknown): PriceTable {
  if (overrides === undefined) return DEFAULT_PRICES;
  if (typeof overrides !== 'object' || overrides === null) {
    throw new InvalidOptionError(
      'pricing',
      overrides,
      'accepted: { [modelId]: { input, cacheWrite5m, cacheWrite1h, cacheRead, output } } in USD per million tokens',
    );
  }
  for (const [model, price] of Object.entries(overrides)) checkPrice(price, `pricing.${model}`);
  return Object.freeze({ ...DEFAULT_PRICES, ...(overrides as PriceTable) });
}

function checkPrice(price: unknown, path: string): void {
  if (typeof price !== 'object' || price === null) {
    throw new InvalidOptionError(
      path,
      price,
      'accepted: { input, cacheWrite5m, cacheWrite1h, cacheRead, output } in USD per million tokens',
    );
  }
  for (const kind of TOKEN_KINDS) {
    const value = (price as Record<string, unknown>)[kind];
    if (typeof value !== 'number' || !Number.isFinite(value) || value < 0) {
      throw new InvalidOptionError(`${path}.${kind}`, value, 'accepted: a price >= 0 in USD per million tokens');
    }
  }
}

/** The price of one call, as `priceCall` computes it. */
export interface PricedCall {
  /** Whole micro-dollars (USD × 10⁶), rounded half up once per call. */
  readonly micros: number;
  /** False when the model is missing from the table: the call is counted, not called free. */
  readonly priced: boolean;
}

/**
 * Prices one call exactly: a price per million tokens is micro-dollars per token, so the sum is
 * kept in integer pico-dollars and rounded to micro-dollars only once.
 */
export function priceCall(table: PriceTable, model: string, tokens: TokenCounts, batch = false): PricedCall {
  const entry = table[model] ?? table[baseModelId(model)];
  if (entry === undefined) return { micros: 0, priced: false };
  const prompt = tokens.input + tokens.cacheWrite5m + tokens.cacheWrite1h + tokens.cacheRead;
  const band = entry.longPrompt !== undefined && prompt > entry.longPrompt.aboveTokens ? entry.longPrompt.price : entry;
  let pico = 0;
  for (const kind of TOKEN_KINDS) pico += tokens[kind] * Math.round(band[kind] * 1_000_000);
  const divisor = batch ? 1_000_000 / BATCH_DISCOUNT : 1_000_000;
  return { micros: Math.floor(pico / divisor + 0.5), priced: true };
}
