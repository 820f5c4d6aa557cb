import { randomUUID } from 'node:crypto';
import type { RedisConnection } from '@tollgate/core';
import { type RedisScript, runScript } from '@tollgate/core/adapter';
import { RESERVE_SCRIPT, RESERVE_SCRIPT_SHA, SETTLE_SCRIPT, SETTLE_SCRIPT_SHA } from './budget-script.js';
import type { LlmProvider } from './provider.js';
import { storeCall, storeTimeoutMs } from './store-call.js';
import type { TokenCounts } from './tokens.js';

/**
 * What tokens of `model` count against a spend budget, in micro-dollars: their price, or for an
 * unpriced model the provider's conservative guess (the dearest price of its family), so a model
 * missing from the price table cannot spend past a budget.
 */
export function budgetCost(provider: LlmProvider, model: string, tokens: TokenCounts): number {
  return provider.budgetPrice?.(model, tokens, false) ?? provider.price(model, tokens, false).micros;
}

/** One spend budget a call is checked against: a scope (app or tenant) over one UTC day or month. */
export interface BudgetPeriod {
  readonly period: 'daily' | 'monthly';
  /** Identifies the scope and the period, e.g. `tenant-42` and `2026-11`. */
  readonly key: string;
  readonly capMicros: number;
  /** When the period ends and the budget starts again (ms). */
  readonly endsAt: number;
}

/** Where spend against budgets is kept. */
export interface BudgetStore {
  /** Holds `micros` against every period, or against none; returns the first period without room. */
  reserve(
    periods: readonly BudgetPeriod[],
    micros: number,
    expiresAt: number,
  ): Promise<{ id: string } | { refused: BudgetPeriod }>;
  /** Drops the hold and adds what the call really cost. */
  settle(periods: readonly BudgetPeriod[], id: string, micros: number): Promise<void>;
}

interface Held {
  spent: number;
  holds: Map<string, { micros: number; expiresAt: number }>;
}

/** Budgets for one process. */
export class MemoryBudgetStore implements BudgetStore {
  private readonly periods = new Map<string, Held & { endsAt: number }>();

  async reserve(periods: readonly BudgetPeriod[], micros: number, expiresAt: number) {
    const now = Date.now();
    for (const [key, held] of this.periods) if (held.endsAt <= now) this.periods.delete(key);
    for (const period of periods) {
      const held = this.held(period);
      let total = held.spent;
      for (const [id, hold] of held.holds) {
        if (hold.expiresAt <= now) held.holds.delete(id);
        else total += hold.micros;
      }
      if (total + micros > period.capMicros) return { refused: period };
    }
    const id = randomUUID();
    for (const period of periods) this.held(period).holds.set(id, { micros, expiresAt });
    return { id };
  }

  async settle(periods: readonly BudgetPeriod[], id: string, micros: number): Promise<void> {
    for (const period of periods) {
      const held = this.held(period);
      held.holds.delete(id);
      held.spent += micros;
    }
  }

  private held(period: BudgetPeriod): Held {
    let held = this.periods.get(period.key);
    if (held === undefined) {
      held = { spent: 0, holds: new Map(), endsAt: period.endsAt };
      this.periods.set(period.key, held);
    }
    return held;
  }
}

/**
 * Budgets in Redis, shared by every instance; one script per reservation and per settlement.
 * Each call ends within `timeoutMs` (default 500 ms) with `TOLLGATE_STORE_TIMEOUT` or
 * `TOLLGATE_STORE_UNAVAILABLE` if Redis does not answer. A reservation that timed out but still
 * reaches Redis later holds its budget only until it expires; a settlement that never arrives
 * leaves the call's real cost out of the budget.
 */
export class RedisBudgetStore implements BudgetStore {
  private readonly timeoutMs: number;

  constructor(
    /** The connection, on demand: a RedisStore's `() => store.connection()` shares its Redis. */
    private readonly connection: () => Promise<RedisConnection>,
    private readonly prefix: string,
    options: { timeoutMs?: number } = {},
  ) {
    this.timeoutMs = storeTimeoutMs(options.timeoutMs);
  }

  async reserve(periods: readonly BudgetPeriod[], micros: number, expiresAt: number) {
    const id = `${randomUUID()}:${micros}`;
    const reply = await this.run(RESERVE, this.keys(periods), [
      Date.now(),
      micros,
      id,
      expiresAt,
      periods.length,
      ...periods.map((p) => p.capMicros),
      ...periods.map((p) => ttlSeconds(p)),
    ]);
    if (Number(reply) === 0) return { id };
    return { refused: periods[Number(reply) - 1] as BudgetPeriod };
  }

  async settle(periods: readonly BudgetPeriod[], id: string, micros: number): Promise<void> {
    await this.run(SETTLE, this.keys(periods), [id, micros, ...periods.map(ttlSeconds)]);
  }

  /** Every key of one scope shares a hash tag, so a call's budgets sit in one Redis Cluster slot. */
  private keys(periods: readonly BudgetPeriod[]): string[] {
    return periods.flatMap((p) => {
      const key = `${this.prefix}:llm:{budget:${p.key.split('|')[0]}}:${p.key}`;
      return [key, `${key}:holds`];
    });
  }

  private run(script: RedisScript, keys: string[], args: (string | number)[]): Promise<unknown> {
    return storeCall('budget store', this.timeoutMs, async () =>
      runScript(await this.connection(), script, keys, args.map(String)),
    );
  }
}

const RESERVE: RedisScript = { source: RESERVE_SCRIPT, sha: RESERVE_SCRIPT_SHA };
const SETTLE: RedisScript = { source: SETTLE_SCRIPT, sha: SETTLE_SCRIPT_SHA };

/** A period's keys outlive it by a day, for late settlements. */
function ttlSeconds(period: BudgetPeriod): number {
  return Math.max(1, Math.ceil((period.endsAt - Date.now()) / 1000) + 86_400);
}

/** The periods a call in `scope` counts against now, for the caps that are set. */
export function budgetPeriods(scope: string, caps: { daily?: number; monthly?: number }, now: number): BudgetPeriod[] {
  const d = new Date(now);
  const periods: BudgetPeriod[] = [];
  if (caps.daily !== undefined) {
    periods.push({
      period: 'daily',
      key: `${scope}|${d.toISOString().slice(0, 10)}`,
      capMicros: Math.round(caps.daily * 1_000_000),
      endsAt: Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), d.getUTCDate() + 1),
    });
  }
  if (caps.monthly !== undefined) {
    periods.push({
      period: 'monthly',
      key: `${scope}|${d.toISOString().slice(0, 7)}`,
      capMicros: Math.round(caps.monthly * 1_000_000),
      endsAt: Date.UTC(d.getUTCFullYear(), d.getUTCMonth() + 1, 1),
    });
  }
  return periods;
}
