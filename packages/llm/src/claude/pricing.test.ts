import { ErrorCodes, InvalidOptionError } from '@tollgate/core';
import { describe, expect, it } from 'vitest';
import type { TokenCounts } from '../engine/tokens.js';
import { BATCH_DISCOUNT, DEFAULT_PRICES, PRICES_AS_OF } from './prices.js';
import { assumedPrice, baseModelId, budgetMicros, priceCall, priceFamily, priceTable, safeModelId } from './pricing.js';

/** One call used for every model: 1,234 input, 2,000 5-min writes, 3,000 1-h writes, 4,000 reads, 567 output. */
const CALL: TokenCounts = { input: 1_234, cacheWrite5m: 2_000, cacheWrite1h: 3_000, cacheRead: 4_000, output: 567 };

const micros = (model: string, tokens: TokenCounts = CALL, batch = false) =>
  priceCall(DEFAULT_PRICES, model, tokens, batch).micros;

/**
 * Hand calculations, in micro-dollars (a price in USD per million tokens is micro-dollars per
 * token): input × p_in + 5m × p_5m + 1h × p_1h + read × p_read + output × p_out, rounded half up.
 */
const EXPECTED: ReadonlyArray<readonly [string, number, string]> = [
  ['claude-opus-5-5', 51_076, '1234×4 + 2000×5 + 3000×8 + 4000×0.20 + 567×20 = 4936 + 10000 + 24000 + 800 + 11340'],
  ['claude-opus-5', 64_845, '1234×5 + 2000×6.25 + 3000×10 + 4000×0.50 + 567×25 = 6170 + 12500 + 30000 + 2000 + 14175'],
  ['claude-opus-4-8', 64_845, 'as claude-opus-5'],
  ['claude-opus-4-7', 64_845, 'as claude-opus-5'],
  ['claude-opus-4-6', 64_845, 'as claude-opus-5'],
  ['claude-opus-4-5', 64_845, 'as claude-opus-5'],
  [
    'claude-opus-4-1',
    194_535,
    '1234×15 + 2000×18.75 + 3000×30 + 4000×1.50 + 567×75 = 18510 + 37500 + 90000 + 6000 + 42525',
  ],
  ['claude-opus-4', 194_535, 'as claude-opus-4-1'],
  ['claude-sonnet-5-5', 25_938, '1234×2 + 2000×2.5 + 3000×4 + 4000×0.20 + 567×10 = 2468 + 5000 + 12000 + 800 + 5670'],
  ['claude-sonnet-5', 25_938, 'as claude-sonnet-5-5'],
  ['claude-sonnet-4-6', 38_907, '1234×3 + 2000×3.75 + 3000×6 + 4000×0.30 + 567×15 = 3702 + 7500 + 18000 + 1200 + 8505'],
  ['claude-sonnet-4-5', 38_907, 'as claude-sonnet-4-6'],
  [
    'claude-haiku-5-5',
    1_297,
    '≤100K prompt: 1234×0.10 + 2000×0.125 + 3000×0.20 + 4000×0.01 + 567×0.50 = 123.4 + 250 + 600 + 40 + 283.5 = 1296.9',
  ],
  ['claude-haiku-4-5', 12_969, '1234×1 + 2000×1.25 + 3000×2 + 4000×0.10 + 567×5 = 1234 + 2500 + 6000 + 400 + 2835'],
  [
    'claude-3-5-haiku',
    10_375,
    '1234×0.80 + 2000×1 + 3000×1.60 + 4000×0.08 + 567×4 = 987.2 + 2000 + 4800 + 320 + 2268 = 10375.2',
  ],
  [
    'claude-fable-5-1',
    126_690,
    '1234×10 + 2000×12.5 + 3000×20 + 4000×0.25 + 567×50 = 12340 + 25000 + 60000 + 1000 + 28350',
  ],
];

describe('priceCall: every model in the price table, to the micro-dollar', () => {
  it.each(EXPECTED)('%s costs %i micro-dollars (%s)', (model, expected) => {
    expect(priceCall(DEFAULT_PRICES, model, CALL)).toEqual({ micros: expected, priced: true });
  });

  it('the table holds exactly the models of the facts sheet, dated', () => {
    expect(Object.keys(DEFAULT_PRICES).sort()).toEqual(EXPECTED.map(([m]) => m).sort());
    expect(PRICES_AS_OF).toMatch(/^\d{4}-\d{2}-\d{2}$/);
  });

  it('prices each kind of token separately (one token of each kind)', () => {
    const one = (kind: keyof TokenCounts): TokenCounts => ({
      input: 0,
      cacheWrite5m: 0,
      cacheWrite1h: 0,
      cacheRead: 0,
      output: 0,
      [kind]: 1_000_000,
    });
    // A million tokens of a kind costs its list price in dollars.
    expect(micros('claude-sonnet-4-5', one('input'))).toBe(3_000_000);
    expect(micros('claude-sonnet-4-5', one('cacheWrite5m'))).toBe(3_750_000);
    expect(micros('claude-sonnet-4-5', one('cacheWrite1h'))).toBe(6_000_000);
    expect(micros('claude-sonnet-4-5', one('cacheRead'))).toBe(300_000);
    expect(micros('claude-sonnet-4-5', one('output'))).toBe(15_000_000);
  });

  it('no tokens cost nothing, but the call is still priced', () => {
    const none = { input: 0, cacheWrite5m: 0, cacheWrite1h: 0, cacheRead: 0, output: 0 };
    expect(priceCall(DEFAULT_PRICES, 'claude-opus-4-1', none)).toEqual({ micros: 0, priced: true });
  });

  it('rounds half up once per call, not per kind', () => {
    // 3 input tokens of claude-3-5-haiku = 2.4 µ$, 3 outputs of claude-haiku-5-5 = 1.5 µ$.
    const t = (input: number, output: number) => ({ input, cacheWrite5m: 0, cacheWrite1h: 0, cacheRead: 0, output });
    expect(micros('claude-3-5-haiku', t(3, 0))).toBe(2);
    expect(micros('claude-haiku-5-5', t(0, 3))).toBe(2);
    // Per kind each would round: 0.5 + 0.5 → 1 + 1 = 2; once per call: 1 µ$ exactly.
    expect(micros('claude-haiku-5-5', t(5, 1))).toBe(1);
  });
});

describe('claude-haiku-5-5: the long-prompt band', () => {
  const t = (over: Partial<TokenCounts>): TokenCounts => ({
    input: 0,
    cacheWrite5m: 0,
    cacheWrite1h: 0,
    cacheRead: 0,
    output: 0,
    ...over,
  });

  it('a prompt of exactly 100,000 tokens is in the short band', () => {
    // 90000×0.10 + 10000×0.01 + 1000×0.50 = 9000 + 100 + 500
    expect(micros('claude-haiku-5-5', t({ input: 90_000, cacheRead: 10_000, output: 1_000 }))).toBe(9_600);
  });

  it('one token more puts the whole request, output too, in the long band', () => {
    // 90001×0.50 + 10000×0.05 + 1000×2.50 = 45000.5 + 500 + 2500 = 48000.5 → 48001
    expect(micros('claude-haiku-5-5', t({ input: 90_001, cacheRead: 10_000, output: 1_000 }))).toBe(48_001);
  });

  it('cache writes count towards the prompt size', () => {
    // 50000 + 30000 + 20001 = 100,001 prompt tokens:
    // 50000×0.50 + 30000×0.625 + 20001×1 + 500×2.50 = 25000 + 18750 + 20001 + 1250
    expect(
      micros('claude-haiku-5-5', t({ input: 50_000, cacheWrite5m: 30_000, cacheWrite1h: 20_001, output: 500 })),
    ).toBe(65_001);
    // 100,000 exactly: 50000×0.10 + 30000×0.125 + 20000×0.20 + 500×0.50 = 5000 + 3750 + 4000 + 250
    expect(
      micros('claude-haiku-5-5', t({ input: 50_000, cacheWrite5m: 30_000, cacheWrite1h: 20_000, output: 500 })),
    ).toBe(13_000);
  });

  it('output alone never moves a request into the long band', () => {
    // 1000×0.10 + 200000×0.50 = 100 + 100000
    expect(micros('claude-haiku-5-5', t({ input: 1_000, output: 200_000 }))).toBe(100_100);
  });

  it('other models have one band', () => {
    // 200000×3 = 600000 µ$ at any size
    expect(micros('claude-sonnet-4-5', t({ input: 200_000 }))).toBe(600_000);
  });
});

describe('batch pricing', () => {
  it('is half of every category, cache included, rounded once', () => {
    expect(BATCH_DISCOUNT).toBe(0.5);
    // 38907 / 2 = 19453.5 → 19454
    expect(micros('claude-sonnet-4-5', CALL, true)).toBe(19_454);
    // 194535 / 2 = 97267.5 → 97268
    expect(micros('claude-opus-4-1', CALL, true)).toBe(97_268);
    // 126690 / 2
    expect(micros('claude-fable-5-1', CALL, true)).toBe(63_345);
  });

  it('stacks with haiku-5-5 long prompts', () => {
    const long = { input: 90_001, cacheWrite5m: 0, cacheWrite1h: 0, cacheRead: 10_000, output: 1_000 };
    // 48000.5 / 2 = 24000.25 → 24000
    expect(micros('claude-haiku-5-5', long, true)).toBe(24_000);
  });
});

describe('model ids', () => {
  it('date-suffixed and -latest ids are priced as their base model', () => {
    expect(baseModelId('claude-opus-4-1-20250805')).toBe('claude-opus-4-1');
    expect(baseModelId('claude-sonnet-4-5-latest')).toBe('claude-sonnet-4-5');
    expect(baseModelId('claude-sonnet-4-5')).toBe('claude-sonnet-4-5');
    expect(micros('claude-opus-4-1-20250805')).toBe(194_535);
    expect(micros('claude-opus-4-20250514')).toBe(194_535);
    expect(micros('claude-sonnet-4-5-20250929')).toBe(38_907);
    expect(micros('claude-3-5-haiku-20241022')).toBe(10_375);
    expect(micros('claude-haiku-5-5-latest')).toBe(1_297);
  });

  it('a suffix that is not a date is not stripped', () => {
    expect(baseModelId('claude-sonnet-4-5-2025')).toBe('claude-sonnet-4-5-2025');
    expect(priceCall(DEFAULT_PRICES, 'claude-sonnet-4-5-2025', CALL).priced).toBe(false);
  });

  it('an unknown model is unpriced (micros 0, priced false), never silently free', () => {
    expect(priceCall(DEFAULT_PRICES, 'claude-mystery-9', CALL)).toEqual({ micros: 0, priced: false });
    expect(priceCall(DEFAULT_PRICES, 'gpt-4o', CALL)).toEqual({ micros: 0, priced: false });
    expect(priceCall(DEFAULT_PRICES, '', CALL)).toEqual({ micros: 0, priced: false });
  });
});

describe('unpriced models: held against budgets at a conservative price (issue 15 defect 8)', () => {
  it('a model id names its price family by its first word other than claude', () => {
    expect(priceFamily('claude-sonnet-9')).toBe('sonnet');
    expect(priceFamily('claude-3-5-haiku-20241022')).toBe('haiku');
    expect(priceFamily('claude-opus-4-1')).toBe('opus');
    expect(priceFamily('gpt-4o')).toBe('gpt');
    expect(priceFamily('42-7')).toBeUndefined();
  });

  it('is the dearest price of its family, kind by kind', () => {
    // Sonnet 4.5/4.6 are the dearest Sonnets: 3 / 3.75 / 6 / 0.30 / 15.
    expect(assumedPrice(DEFAULT_PRICES, 'claude-sonnet-9')).toEqual(DEFAULT_PRICES['claude-sonnet-4-5']);
    // Opus 4 / 4.1: 15 / 18.75 / 30 / 1.50 / 75.
    expect(assumedPrice(DEFAULT_PRICES, 'claude-opus-9-1')).toEqual(DEFAULT_PRICES['claude-opus-4-1']);
    // Haiku 4.5 is dearer than Haiku 5.5's long band (1 vs 0.5 input).
    expect(assumedPrice(DEFAULT_PRICES, 'claude-haiku-9')).toEqual(DEFAULT_PRICES['claude-haiku-4-5']);
  });

  it('is the dearest of the whole table, long bands included, for a family the table does not know', () => {
    const dearest = { input: 15, cacheWrite5m: 18.75, cacheWrite1h: 30, cacheRead: 1.5, output: 75 };
    expect(assumedPrice(DEFAULT_PRICES, 'claude-mystery-9')).toEqual(dearest);
    expect(assumedPrice(DEFAULT_PRICES, 'gpt-4o')).toEqual(dearest);
    // An override dearer than anything built in raises it.
    const table = priceTable({
      'claude-nova-1': { input: 40, cacheWrite5m: 1, cacheWrite1h: 1, cacheRead: 1, output: 1 },
    });
    expect(assumedPrice(table, 'claude-zeta-1').input).toBe(40);
    expect(assumedPrice(table, 'claude-nova-2').input).toBe(40);
  });

  it('budgetMicros: the price when there is one, else the cost at the assumed price', () => {
    expect(budgetMicros(DEFAULT_PRICES, 'claude-sonnet-4-5', CALL)).toBe(38_907);
    // Priced as claude-sonnet-4-5, but still unpriced for the ledger.
    expect(budgetMicros(DEFAULT_PRICES, 'claude-sonnet-9', CALL)).toBe(38_907);
    expect(priceCall(DEFAULT_PRICES, 'claude-sonnet-9', CALL)).toEqual({ micros: 0, priced: false });
    expect(budgetMicros(DEFAULT_PRICES, 'claude-mystery-9', CALL)).toBe(194_535);
  });
});

describe('safeModelId (issue 15 defect 11)', () => {
  it.each(['__proto__', 'constructor', 'prototype', 'toString', 'hasOwnProperty', '', 'a b', 'x'.repeat(65)])(
    'refuses %j with TOLLGATE_INVALID_MODEL',
    (model) => {
      expect(() => safeModelId(model)).toThrow(expect.objectContaining({ code: ErrorCodes.INVALID_MODEL }));
    },
  );

  it('passes a model id through unchanged', () => {
    expect(safeModelId('claude-sonnet-4-5-20250929')).toBe('claude-sonnet-4-5-20250929');
  });

  it('an own price named constructor is not read from the prototype', () => {
    expect(priceCall(DEFAULT_PRICES, 'constructor', CALL)).toEqual({ micros: 0, priced: false });
    expect(priceCall(DEFAULT_PRICES, 'toString', CALL)).toEqual({ micros: 0, priced: false });
  });
});

describe('priceTable: overrides', () => {
  const custom = { input: 1, cacheWrite5m: 2, cacheWrite1h: 3, cacheRead: 0.5, output: 10 };

  it('without overrides is the default table', () => {
    expect(priceTable(undefined)).toBe(DEFAULT_PRICES);
  });

  it('adds a model and replaces a built-in price, leaving the rest', () => {
    const table = priceTable({ 'claude-mystery-9': custom, 'claude-sonnet-4-5': custom });
    // 1234×1 + 2000×2 + 3000×3 + 4000×0.5 + 567×10 = 1234 + 4000 + 9000 + 2000 + 5670
    expect(priceCall(table, 'claude-mystery-9', CALL)).toEqual({ micros: 21_904, priced: true });
    expect(priceCall(table, 'claude-sonnet-4-5-20250929', CALL).micros).toBe(21_904);
    expect(priceCall(table, 'claude-sonnet-4-6', CALL).micros).toBe(38_907);
    expect(Object.isFrozen(table)).toBe(true);
  });

  it('an exact dated id in the table wins over its base id', () => {
    const table = priceTable({ 'claude-sonnet-4-5-20250929': custom });
    expect(priceCall(table, 'claude-sonnet-4-5-20250929', CALL).micros).toBe(21_904);
    expect(priceCall(table, 'claude-sonnet-4-5', CALL).micros).toBe(38_907);
  });

  it.each([
    ['not an object', 'cheap', 'pricing'],
    ['a null price', { m: null }, 'pricing.m'],
    ['a missing kind', { m: { input: 1, cacheWrite5m: 1, cacheWrite1h: 1, cacheRead: 1 } }, 'pricing.m.output'],
    ['a negative price', { m: { ...custom, input: -1 } }, 'pricing.m.input'],
    ['a string price', { m: { ...custom, cacheRead: '0.3' } }, 'pricing.m.cacheRead'],
    ['an infinite price', { m: { ...custom, output: Number.POSITIVE_INFINITY } }, 'pricing.m.output'],
  ])('rejects %s, naming the option', (_label, overrides, option) => {
    let caught: unknown;
    try {
      priceTable(overrides);
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(InvalidOptionError);
    expect((caught as InvalidOptionError).code).toBe(ErrorCodes.INVALID_OPTION);
    expect((caught as InvalidOptionError).option).toBe(option);
  });
});
