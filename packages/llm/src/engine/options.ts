import { ErrorCodes, InvalidOptionError, TollgateError } from '@tollgate/core';
import { assertKnownOptions, assertOptionsObject, timerMs, tokenCount } from '@tollgate/core/adapter';
import type { FamilyLimits } from './types.js';

/** `limits`: `{ [familyOrModel]: { rpm, itpm, otpm, burst? } }`, a model id standing for its whole family. */
export function parseLimits(value: unknown, family: (model: string) => string): Readonly<Record<string, FamilyLimits>> {
  if (value === undefined) return {};
  if (typeof value !== 'object' || value === null) {
    throw new InvalidOptionError(
      'limits',
      value,
      "accepted: { [familyOrModel]: { rpm, itpm, otpm, burst?: { rpm?, itpm?, otpm? } } }, with '*' for the rest",
    );
  }
  const out: Record<string, FamilyLimits> = {};
  for (const [name, limits] of Object.entries(value)) {
    const l = assertOptionsObject(limits, `limits.${name}`);
    assertKnownOptions(l, new Set(['rpm', 'itpm', 'otpm', 'burst']), `limits.${name}`);
    const parsed: FamilyLimits = {
      rpm: tokenCount(l.rpm, `limits.${name}.rpm`),
      itpm: tokenCount(l.itpm, `limits.${name}.itpm`),
      otpm: tokenCount(l.otpm, `limits.${name}.otpm`),
    };
    if (l.burst !== undefined) parsed.burst = parseBurst(l.burst, parsed, `limits.${name}.burst`);
    // Limits given by model id apply to the model's whole family (which shares one budget).
    const key = name === '*' ? name : family(name);
    const seen = out[key];
    if (seen !== undefined && JSON.stringify(seen) !== JSON.stringify(parsed)) {
      throw new InvalidOptionError(
        `limits.${name}`,
        parsed,
        `it shares the ${key} budget with another entry that sets different limits`,
      );
    }
    out[key] = parsed;
  }
  return Object.freeze(out);
}

/** The longest a bucket may take to refill from empty, as core's policies: 2^40 ms. */
const MAX_FILL_MS = 2 ** 40;

/** `burst: { rpm?, itpm?, otpm? }`: whole numbers of requests or tokens a bucket holds. */
function parseBurst(value: unknown, limits: FamilyLimits, option: string): NonNullable<FamilyLimits['burst']> {
  const burst = assertOptionsObject(value, option);
  assertKnownOptions(burst, new Set(['rpm', 'itpm', 'otpm']), option);
  const out: NonNullable<FamilyLimits['burst']> = {};
  for (const kind of ['rpm', 'itpm', 'otpm'] as const) {
    if (burst[kind] === undefined) continue;
    const size = tokenCount(burst[kind], `${option}.${kind}`);
    if ((size * 60_000) / limits[kind] > MAX_FILL_MS) {
      throw new InvalidOptionError(
        `${option}.${kind}`,
        size,
        `accepted: a whole number that the ${kind} limit (${limits[kind]} per minute) refills within 2^40 ms`,
      );
    }
    out[kind] = size;
  }
  return out;
}

export function parseBudgets(value: unknown): { daily?: number; monthly?: number } | undefined {
  if (value === undefined) return undefined;
  const budgets = assertOptionsObject(value, 'budgets');
  assertKnownOptions(budgets, new Set(['daily', 'monthly']), 'budgets');
  const out: { daily?: number; monthly?: number } = {};
  for (const period of ['daily', 'monthly'] as const) {
    const usd = budgets[period];
    if (usd === undefined) continue;
    if (typeof usd !== 'number' || !Number.isFinite(usd) || usd <= 0) {
      throw new InvalidOptionError(`budgets.${period}`, usd, 'accepted: an amount in US dollars > 0');
    }
    out[period] = usd;
  }
  return Object.keys(out).length === 0 ? undefined : out;
}

/** A token count a caller gives with a call (a usage error, not an option error). */
export function optionalCount(value: unknown, option: string): number | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) {
    throw new TollgateError(
      ErrorCodes.INVALID_USAGE,
      `tollgate: ${option} must be a whole number of tokens >= 0, got ${String(value)}`,
    );
  }
  return value;
}

/** A longest wait: 0 (never wait) up to the longest timer Node honours (longer fires at once). */
export function waitLimit(value: unknown, option: string): number {
  return value === 0 ? 0 : timerMs(value, option);
}

export function nonNegativeInteger(value: unknown, option: string): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) {
    throw new InvalidOptionError(option, value, 'accepted: a whole number >= 0');
  }
  return value;
}

export function safeName(value: unknown, option: string): string {
  if (typeof value !== 'string' || !/^[A-Za-z0-9_.-]{1,64}$/.test(value)) {
    throw new InvalidOptionError(option, value, 'accepted: 1 to 64 letters, digits, "_", "." or "-"');
  }
  return value;
}
