import { type DayCounters, prototypeFree } from './ledger.js';
import { NO_TOKENS, TOKEN_KINDS, type TokenCounts } from './tokens.js';
import type { ModelUsage, UsageStats } from './types.js';

/** The ledger's counters of each day, summed per day, per model and in all (newest day first). */
export function usageStats(
  dates: readonly string[],
  counters: Map<string, DayCounters>,
  pricesAsOf: string,
): UsageStats {
  const total = emptyUsage();
  // Keyed by model id: prototype-free, so no id can reach Object.prototype through them.
  const models = prototypeFree<ModelUsage>();
  const out: UsageStats['days'] = [];
  for (const date of dates) {
    const day = { ...emptyUsage(), date, models: prototypeFree<ModelUsage>() };
    for (const [model, fields] of Object.entries(counters.get(date) ?? {})) {
      const usage = fromCounters(fields);
      day.models[model] = usage;
      addInto(day, usage);
      models[model] ??= emptyUsage();
      addInto(models[model], usage);
    }
    addInto(total, day);
    out.push(day);
  }
  return { ...total, pricesAsOf, days: out, models };
}

function emptyUsage(): ModelUsage {
  return { calls: 0, attempts: 0, errors: 0, unpricedCalls: 0, costMicros: 0, costUsd: 0, tokens: { ...NO_TOKENS } };
}

function fromCounters(fields: Record<string, number>): ModelUsage {
  const tokens = Object.fromEntries(TOKEN_KINDS.map((k) => [k, fields[k] ?? 0])) as unknown as TokenCounts;
  const costMicros = fields.costMicros ?? 0;
  return {
    calls: fields.calls ?? 0,
    attempts: (fields.calls ?? 0) + (fields.retried ?? 0),
    errors: fields.errors ?? 0,
    unpricedCalls: fields.unpriced ?? 0,
    costMicros,
    costUsd: costMicros / 1e6,
    tokens,
  };
}

function addInto(into: ModelUsage, add: ModelUsage): void {
  into.calls += add.calls;
  into.attempts += add.attempts;
  into.errors += add.errors;
  into.unpricedCalls += add.unpricedCalls;
  into.costMicros += add.costMicros;
  into.costUsd = into.costMicros / 1e6;
  const tokens = { ...into.tokens } as Record<string, number>;
  for (const k of TOKEN_KINDS) tokens[k] = (tokens[k] ?? 0) + add.tokens[k];
  into.tokens = tokens as unknown as TokenCounts;
}
