import { InvalidOptionError } from '@tollgate/core';
import { isSafeRecordKey } from '../engine/ledger-script.js';
import { TOKEN_KINDS, type TokenCounts } from '../engine/tokens.js';
import { InvalidModelError, modelId } from './model-id.js';
import { BATCH_DISCOUNT, DEFAULT_PRICES, type ModelPrice } from './prices.js';

export type PriceTable = Readonly<Record<string, ModelPrice>>;

/** `claude-opus-4-1-20250805` and `claude-opus-4-1-latest` are priced as `claude-opus-4-1`. */
export function baseModelId(model: string): string {
  return model.replace(/-(\d{8}|latest)$/, '');
}

/**
 * A model id fit for a bucket key, a ledger field or a metric label; anything else (client
 * input?) throws `InvalidModelError` (`TOLLGATE_INVALID_MODEL`): never a stand-in name, and never
 * a name an object already has (`__proto__`, `constructor`, `prototype`, `toString`, …).
 */
export function safeModelId(model: string): string {
  const id = modelId(model);
  if (!isSafeRecordKey(id)) throw new InvalidModelError(model);
  return id;
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

/**
 * The family a model id's price belongs to: its first word of letters other than `claude`
 * (`claude-sonnet-4-5` and `claude-sonnet-9` → `sonnet`, `claude-3-5-haiku` → `haiku`).
 */
export function priceFamily(model: string): string | undefined {
  return baseModelId(model)
    .split(/[-_.]/)
    .find((word) => /^[a-z]+$/i.test(word) && word.toLowerCase() !== 'claude')
    ?.toLowerCase();
}

/**
 * What budgets hold a model missing from the table at: the dearest price of its family in the
 * table, kind by kind (an unknown `claude-sonnet-9` at the dearest Sonnet's), or, for a family
 * the table does not know, the dearest of the whole table, long-prompt bands included. A
 * conservative guess, so an unpriced model cannot spend past a budget; the ledger still counts
 * it as unpriced, not at this price.
 */
export function assumedPrice(table: PriceTable, model: string): Omit<ModelPrice, 'longPrompt'> {
  const family = priceFamily(model);
  const entries = Object.entries(table);
  const kin = entries.filter(([id]) => family !== undefined && priceFamily(id) === family);
  const bands = (kin.length > 0 ? kin : entries).flatMap(([, p]) => (p.longPrompt ? [p, p.longPrompt.price] : [p]));
  const dearest = (kind: (typeof TOKEN_KINDS)[number]) => Math.max(0, ...bands.map((b) => b[kind]));
  return Object.freeze({
    input: dearest('input'),
    cacheWrite5m: dearest('cacheWrite5m'),
    cacheWrite1h: dearest('cacheWrite1h'),
    cacheRead: dearest('cacheRead'),
    output: dearest('output'),
  });
}

/**
 * What a call counts against a spend budget, in micro-dollars: its price, or for an unpriced
 * model its cost at `assumedPrice`.
 */
export function budgetMicros(table: PriceTable, model: string, tokens: TokenCounts, batch = false): number {
  const priced = priceCall(table, model, tokens, batch);
  if (priced.priced) return priced.micros;
  return priceCall({ [model]: assumedPrice(table, model) }, model, tokens, batch).micros;
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
  const entry = Object.hasOwn(table, model)
    ? table[model]
    : Object.hasOwn(table, baseModelId(model))
      ? table[baseModelId(model)]
      : undefined;
  if (entry === undefined) return { micros: 0, priced: false };
  const prompt = tokens.input + tokens.cacheWrite5m + tokens.cacheWrite1h + tokens.cacheRead;
  const band = entry.longPrompt !== undefined && prompt > entry.longPrompt.aboveTokens ? entry.longPrompt.price : entry;
  let pico = 0;
  for (const kind of TOKEN_KINDS) pico += tokens[kind] * Math.round(band[kind] * 1_000_000);
  const divisor = batch ? 1_000_000 / BATCH_DISCOUNT : 1_000_000;
  return { micros: Math.floor(pico / divisor + 0.5), priced: true };
}
