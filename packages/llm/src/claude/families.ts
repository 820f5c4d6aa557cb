import { baseModelId } from './pricing.js';

/**
 * Models that draw on one rate-limit budget. The provider pools some model versions (every
 * Opus 4.5–4.8 model shares one set of limits); any model not listed is its own family.
 */
const SHARED_BUDGETS: ReadonlyArray<readonly [RegExp, string]> = [[/^claude-opus-4-[5-8]$/, 'claude-opus-4-5+']];

/** The family whose budget a model draws on; `overrides` (model id → family) win. */
export function modelFamily(model: string, overrides?: Readonly<Record<string, string>>): string {
  const base = baseModelId(model);
  const named = overrides?.[model] ?? overrides?.[base];
  if (named !== undefined) return named;
  for (const [pattern, family] of SHARED_BUDGETS) if (pattern.test(base)) return family;
  return base;
}
