import { BoundedValues, lazyFamily } from '@tollgate/core/adapter';
import type {
  CallOutcome as ClaudeCallOutcome,
  StoreWrite as ClaudeStoreWrite,
  LlmMetrics,
} from '../engine/provider.js';
import { TOKEN_KINDS, type TokenCounts } from '../engine/tokens.js';
import { guard } from './metrics-guard.js';
import { safeModelId } from './pricing.js';

const calls = lazyFamily(
  ({ Counter }) =>
    new Counter<'model' | 'outcome'>({
      name: 'tollgate_claude_calls_total',
      help: 'Claude API calls made through ClaudeRateLimiter.run, by model and outcome.',
      labelNames: ['model', 'outcome'],
      registers: [],
    }),
);
const tokens = lazyFamily(
  ({ Counter }) =>
    new Counter<'model' | 'type'>({
      name: 'tollgate_claude_tokens_total',
      help: 'Claude API tokens, by model and type (input, cache_write_5m, cache_write_1h, cache_read, output).',
      labelNames: ['model', 'type'],
      registers: [],
    }),
);
const cost = lazyFamily(
  ({ Counter }) =>
    new Counter<'model'>({
      name: 'tollgate_claude_cost_usd_total',
      help: 'Claude API cost at list prices, in US dollars, by model; unpriced models are not in it.',
      labelNames: ['model'],
      registers: [],
    }),
);
const unpriced = lazyFamily(
  ({ Counter }) =>
    new Counter<'model'>({
      name: 'tollgate_claude_unpriced_calls_total',
      help: 'Claude API calls to a model missing from the price table, by model.',
      labelNames: ['model'],
      registers: [],
    }),
);
const retries = lazyFamily(
  ({ Counter }) =>
    new Counter<'model' | 'reason'>({
      name: 'tollgate_claude_retries_total',
      help: 'Claude API calls retried by ClaudeRateLimiter.run, by model and reason.',
      labelNames: ['model', 'reason'],
      registers: [],
    }),
);
const waits = lazyFamily(
  ({ Counter }) =>
    new Counter<'model'>({
      name: 'tollgate_claude_limiter_waits_total',
      help: 'Times a Claude API call waited for its family budget before being admitted.',
      labelNames: ['model'],
      registers: [],
    }),
);
const failedWrites = lazyFamily(
  ({ Counter }) =>
    new Counter<'model' | 'write'>({
      name: 'tollgate_claude_store_writes_failed_total',
      help: 'Writes after a Claude call that the store failed or did not confirm within timeoutMs, by model and write (ledger, budget, buckets): usage missing from the ledger, spend missing from a budget.',
      labelNames: ['model', 'write'],
      registers: [],
    }),
);

/** Model ids come from callers (a proxy may pass client input): at most 50 label values. */
const models = new BoundedValues(50);
const TYPE_LABEL: Record<(typeof TOKEN_KINDS)[number], string> = {
  input: 'input',
  cacheWrite5m: 'cache_write_5m',
  cacheWrite1h: 'cache_write_1h',
  cacheRead: 'cache_read',
  output: 'output',
};

/** The `tollgate_claude_*` families, made when the first ClaudeRateLimiter is. */
export const claudeMetrics: LlmMetrics = {
  /** A Claude limiter exists: its families appear now (with prom-client installed), not at import. */
  init(): void {
    guard('claude metrics', () => {
      for (const family of [calls, tokens, cost, unpriced, retries, waits, failedWrites]) family();
    });
  },
  call(model: string, outcome: ClaudeCallOutcome): void {
    guard('claude calls metric', () =>
      calls()
        ?.labels(models.label(safeModelId(model)), outcome)
        .inc(),
    );
  },
  usage(model: string, counts: TokenCounts, micros: number, priced: boolean): void {
    guard('claude usage metrics', () => {
      const label = models.label(safeModelId(model));
      for (const kind of TOKEN_KINDS) if (counts[kind] > 0) tokens()?.labels(label, TYPE_LABEL[kind]).inc(counts[kind]);
      if (priced)
        cost()
          ?.labels(label)
          .inc(micros / 1_000_000);
      else unpriced()?.labels(label).inc();
    });
  },
  retry(model: string, reason: string): void {
    guard('claude retries metric', () =>
      retries()
        ?.labels(models.label(safeModelId(model)), reason)
        .inc(),
    );
  },
  storeWriteFailed(model: string, write: ClaudeStoreWrite): void {
    guard('claude store writes metric', () =>
      failedWrites()
        ?.labels(models.label(safeModelId(model)), write)
        .inc(),
    );
  },
  wait(model: string): void {
    guard('claude waits metric', () =>
      waits()
        ?.labels(models.label(safeModelId(model)))
        .inc(),
    );
  },
};
