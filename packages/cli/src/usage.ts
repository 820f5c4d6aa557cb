import type { RedisClientLike } from '@tollgate/core';
import { ClaudeRateLimiter, type ModelUsage, type UsageStats } from '@tollgate/llm';
import type { Client } from './connect.js';
import { CliError, EXIT_USAGE } from './errors.js';
import { count, table } from './table.js';

/** Checks the prefix as ClaudeRateLimiter does, before anything connects. */
export function validateUsagePrefix(prefix: string): void {
  try {
    new ClaudeRateLimiter({ prefix });
  } catch (error) {
    throw new CliError(`--prefix${(error as Error).message.replace(/^tollgate: option `[^`]*`/, '')}`, EXIT_USAGE);
  }
}

/**
 * The ledger ClaudeRateLimiter keeps in this Redis under `prefix`, as getUsageStats reports it;
 * `timeoutMs` (--timeout) bounds the read, in place of the limiter's own default.
 */
export function usage(client: Client, prefix: string, days: number, timeoutMs: number): Promise<UsageStats> {
  const claude = new ClaudeRateLimiter({ redis: client as unknown as RedisClientLike, prefix, timeoutMs });
  return claude.getUsageStats({ days });
}

const usd = (u: ModelUsage) => `$${u.costUsd.toFixed(4)}`;
const cacheWrites = (u: ModelUsage) => u.tokens.cacheWrite5m + u.tokens.cacheWrite1h;

/** The report as a table: one row per day and model with calls, then the totals. */
export function formatUsage(stats: UsageStats, prefix: string): string {
  const first = stats.days.at(-1)?.date;
  const last = stats.days[0]?.date;
  const title = `Claude API usage ${first} to ${last} (UTC days), prefix "${prefix}", prices as of ${stats.pricesAsOf}`;
  const rows: string[][] = [];
  for (const day of stats.days) {
    for (const [model, u] of Object.entries(day.models).sort(([a], [b]) => a.localeCompare(b))) {
      rows.push(row(day.date, model, u));
    }
  }
  if (rows.length === 0) return `${title}\n\nNo usage recorded in these ${stats.days.length} days.`;
  rows.push(row('total', '', stats));
  const header = ['date', 'model', 'calls', 'errors', 'input', 'cache writes', 'cache reads', 'output', 'cost (USD)'];
  const lines = [title, '', table(header, rows, new Set([2, 3, 4, 5, 6, 7, 8]))];
  if (stats.unpricedCalls > 0) {
    lines.push(
      '',
      `${count(stats.unpricedCalls)} call(s) used models missing from the price table: their cost is not counted (add them with the pricing option).`,
    );
  }
  return lines.join('\n');
}

function row(date: string, model: string, u: ModelUsage): string[] {
  return [
    date,
    model,
    count(u.calls),
    count(u.errors),
    count(u.tokens.input),
    count(cacheWrites(u)),
    count(u.tokens.cacheRead),
    count(u.tokens.output),
    usd(u),
  ];
}
