import { createHash } from 'node:crypto';
import { ErrorCodes, type RedisConnection, TollgateError } from '@tollgate/core';
import { runScript } from '@tollgate/core/adapter';
import { isSafeRecordKey, LEDGER_SCRIPT, LEDGER_SCRIPT_SHA } from './ledger-script.js';
import { storeCall, storeTimeoutMs } from './store-call.js';
import { TOKEN_KINDS, type TokenCounts } from './tokens.js';

/** How long usage is kept: a month of days, and a day for the one in progress. */
export const LEDGER_DAYS = 31;
const TTL_SECONDS = LEDGER_DAYS * 86_400;

/** One call's usage, as it goes into the ledger. */
export interface UsageEntry {
  /** The UTC day, `YYYY-MM-DD`. */
  readonly day: string;
  readonly model: string;
  readonly tokens: TokenCounts;
  readonly micros: number;
  readonly priced: boolean;
  readonly success: boolean;
  /** HTTP attempts the call took (default 1). */
  readonly attempts?: number | undefined;
  /** The provider's `request-id`: a call recorded twice with one id counts once. */
  readonly requestId?: string | undefined;
}

/**
 * Per-model counters of one day: `calls`, `errors`, `unpriced`, `costMicros` and each token kind.
 * Both levels are prototype-free (`Object.create(null)`), so no model id or counter name can
 * reach `Object.prototype`; make new ones with `prototypeFree()`.
 */
export type DayCounters = Record<string, Record<string, number>>;

/** An empty prototype-free record, for ledger counters keyed by model ids and counter names. */
export function prototypeFree<T>(): Record<string, T> {
  return Object.create(null) as Record<string, T>;
}

/** Where usage is kept; every `record` is atomic and idempotent per request id. */
export interface UsageLedger {
  /** Adds the entry; false when its request id was already recorded. */
  record(entry: UsageEntry): Promise<boolean>;
  /** The counters of each day asked for (absent days are empty). */
  read(days: readonly string[]): Promise<Map<string, DayCounters>>;
}

export const LEDGER_FIELDS = ['calls', 'retried', 'errors', 'unpriced', 'costMicros', ...TOKEN_KINDS] as const;

function increments(entry: UsageEntry): [string, number][] {
  const out: [string, number][] = [
    ['calls', 1],
    // Attempts beyond the first (errors that were retried); a call of one attempt writes none.
    ['retried', (entry.attempts ?? 1) - 1],
    ['errors', entry.success ? 0 : 1],
    ['unpriced', entry.priced ? 0 : 1],
    ['costMicros', entry.micros],
  ];
  for (const kind of TOKEN_KINDS) out.push([kind, entry.tokens[kind]]);
  return out.filter(([, n]) => n !== 0);
}

/** The UTC day of a time, `YYYY-MM-DD`. */
export function utcDay(ms: number): string {
  return new Date(ms).toISOString().slice(0, 10);
}

/** The ledger for one process: kept in memory, as the memory store keeps buckets. */
export class MemoryLedger implements UsageLedger {
  private readonly days = new Map<string, DayCounters>();
  private readonly seen = new Map<string, Set<string>>();

  async record(entry: UsageEntry): Promise<boolean> {
    // Before the request id is marked: a refused entry leaves nothing behind.
    checkEntry(entry);
    if (entry.requestId !== undefined) {
      const ids = this.seen.get(entry.day) ?? new Set<string>();
      this.seen.set(entry.day, ids);
      if (ids.has(entry.requestId)) return false;
      ids.add(entry.requestId);
    }
    const day = this.days.get(entry.day) ?? prototypeFree<Record<string, number>>();
    this.days.set(entry.day, day);
    day[entry.model] ??= prototypeFree<number>();
    const fields = day[entry.model] as Record<string, number>;
    for (const [field, n] of increments(entry)) fields[field] = (fields[field] ?? 0) + n;
    this.prune(entry.day);
    return true;
  }

  async read(days: readonly string[]): Promise<Map<string, DayCounters>> {
    // Copies, prototype-free like the originals (structuredClone would give them a prototype).
    return new Map(days.map((d) => [d, copyDay(this.days.get(d))]));
  }

  private prune(today: string): void {
    const oldest = utcDay(Date.parse(today) - (LEDGER_DAYS - 1) * 86_400_000);
    for (const day of this.days.keys()) if (day < oldest) this.days.delete(day);
    for (const day of this.seen.keys()) if (day < oldest) this.seen.delete(day);
  }
}

/**
 * The ledger in Redis: one hash per UTC day (`model:field` → integer), written by one Lua script
 * per call, so the request-id check and every counter move together. The day's keys share a
 * hash tag, so this works on Redis Cluster too.
 *
 * Each `record` and `read` ends within `timeoutMs` (default 500 ms), connecting included: with
 * `TOLLGATE_STORE_TIMEOUT` when Redis did not answer in time (a command already sent may still
 * be applied later), or `TOLLGATE_STORE_UNAVAILABLE` when the client failed.
 */
export class RedisLedger implements UsageLedger {
  private readonly timeoutMs: number;

  constructor(
    /** The connection, on demand: a RedisStore's `() => store.connection()` shares its Redis. */
    private readonly connection: () => Promise<RedisConnection>,
    private readonly prefix: string,
    options: {
      /** The longest a `record` or `read` waits for Redis, in whole ms (default 500). */
      timeoutMs?: number;
    } = {},
  ) {
    this.timeoutMs = storeTimeoutMs(options.timeoutMs);
  }

  record(entry: UsageEntry): Promise<boolean> {
    return storeCall('usage ledger write', this.timeoutMs, () => this.write(entry));
  }

  read(days: readonly string[]): Promise<Map<string, DayCounters>> {
    return storeCall('usage ledger read', this.timeoutMs, () => this.readDays(days));
  }

  private async write(entry: UsageEntry): Promise<boolean> {
    checkEntry(entry);
    const conn = await this.connection();
    const dayKey = this.dayKey(entry.day);
    const idKey = entry.requestId === undefined ? dayKey : `${dayKey}:req:${digest(entry.requestId)}`;
    const args = [String(TTL_SECONDS), entry.requestId === undefined ? '0' : '1'];
    for (const [field, n] of increments(entry)) args.push(`${entry.model}:${field}`, String(n));
    const reply = await runScript(conn, LEDGER, [dayKey, idKey], args);
    return Number(reply) === 1;
  }

  private async readDays(days: readonly string[]): Promise<Map<string, DayCounters>> {
    const conn = await this.connection();
    // Sent together (one round trip when pipelined), so 31 days cost one wait, not 31.
    const hashes = await Promise.all(days.map((day) => conn.hgetall(this.dayKey(day))));
    const out = new Map<string, DayCounters>();
    days.forEach((date, i) => {
      const day: DayCounters = prototypeFree();
      for (const [field, value] of Object.entries(hashes[i] ?? {})) {
        const at = field.lastIndexOf(':');
        const n = Number(value);
        if (at <= 0 || !Number.isSafeInteger(n)) {
          throw new TollgateError(ErrorCodes.STORE_PROTOCOL, `Unexpected usage ledger field ${JSON.stringify(field)}`);
        }
        const model = field.slice(0, at);
        // A field an older tollgate let in (`__proto__:calls`) is skipped, not read into anything.
        if (!isSafeRecordKey(model) || !isSafeRecordKey(field.slice(at + 1))) continue;
        day[model] ??= prototypeFree<number>();
        (day[model] as Record<string, number>)[field.slice(at + 1)] = n;
      }
      out.set(date, day);
    });
    return out;
  }

  private dayKey(day: string): string {
    return `${this.prefix}:llm:{usage:${day}}`;
  }
}

/**
 * The checks the ledger script makes, made before anything is written (in memory) or sent (to
 * Redis): a model id that could stand for an object's own property, or a count that is not a
 * whole number, would make one counter of the entry go in and the next fail.
 */
function checkEntry(entry: UsageEntry): void {
  if (!/^[^:\s\p{Cc}]{1,128}$/u.test(entry.model) || !isSafeRecordKey(entry.model)) {
    throw new TollgateError(
      ErrorCodes.INVALID_MODEL,
      `tollgate: the ledger refuses the model id ${JSON.stringify(entry.model)}`,
    );
  }
  for (const [field, n] of increments(entry)) {
    if (!Number.isSafeInteger(n)) {
      throw new TollgateError(
        ErrorCodes.INVALID_USAGE,
        `tollgate: ledger counter ${field} must be a whole number, got ${n}`,
      );
    }
  }
}

function copyDay(day: DayCounters | undefined): DayCounters {
  const out: DayCounters = prototypeFree();
  for (const [model, fields] of Object.entries(day ?? {})) out[model] = Object.assign(prototypeFree<number>(), fields);
  return out;
}

/** The ledger script, as the one script runner takes it. */
const LEDGER = { source: LEDGER_SCRIPT, sha: LEDGER_SCRIPT_SHA } as const;

function digest(value: string): string {
  return createHash('sha256').update(value).digest('base64url').slice(0, 32);
}
