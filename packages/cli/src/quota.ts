import { parseArgs } from 'node:util';
import { parseDuration, RateLimiter } from '@tollgate/core';
import { type Connected, connect, describe, parseRedisUrl, redisFailure } from './connect.js';
import { CliError, EXIT_FAILURE, EXIT_USAGE, oneLine } from './errors.js';

/** What the quota command writes to and prints on. */
export interface QuotaIo {
  readonly env: NodeJS.ProcessEnv;
  out(text: string): void;
  err(text: string): void;
}

const OPTIONS = {
  'redis-url': { type: 'string' },
  timeout: { type: 'string' },
  prefix: { type: 'string' },
  json: { type: 'boolean' },
  max: { type: 'string' },
  window: { type: 'string' },
  burst: { type: 'string' },
} as const;

/** Tenants stored as they are, as RedisQuotaSource keys them (any other key would be a digest there). */
const TENANT = /^[A-Za-z0-9._:/@+=-]{1,100}$/;
const PREFIX = /^[A-Za-z0-9_.-]{1,64}$/;

const usage = (message: string) => new CliError(`${message} (see tollgate --help)`, EXIT_USAGE);

/**
 * `tollgate quota set|get|delete <tenant>`: the hash `<prefix>:quota:<tenant>` that
 * RedisQuotaSource reads (fields max, window in ms, burst). Every command is bounded by
 * --timeout (default 3000 ms), as every other command is.
 */
export async function quota(argv: readonly string[], io: QuotaIo): Promise<number> {
  let connected: Connected | undefined;
  try {
    let parsed: ReturnType<typeof parseArgs<{ options: typeof OPTIONS; allowPositionals: true }>>;
    try {
      parsed = parseArgs({ args: [...argv], options: OPTIONS, allowPositionals: true, strict: true });
    } catch (error) {
      throw usage((error as Error).message.replace(/\. To specify a positional argument.*$/s, ''));
    }
    const { values, positionals } = parsed;
    const [action, tenant, ...extra] = positionals;
    if (action !== 'set' && action !== 'get' && action !== 'delete') {
      throw usage('quota takes set, get or delete, then a tenant');
    }
    if (tenant === undefined || extra.length > 0) throw usage(`give one tenant, e.g. tollgate quota ${action} acme`);
    if (!TENANT.test(tenant)) throw usage('a tenant is 1 to 100 letters, digits or ._:/@+=-');
    const prefix = values.prefix ?? 'tollgate';
    if (!PREFIX.test(prefix)) throw usage('--prefix is 1 to 64 letters, digits, "_", "." or "-"');
    const policy = action === 'set' ? quotaPolicy(values) : undefined;
    if (action !== 'set' && (values.max ?? values.window ?? values.burst) !== undefined) {
      throw usage('--max, --window and --burst go with quota set');
    }
    const redisUrl = values['redis-url'] ?? io.env.REDIS_URL;
    if (redisUrl === undefined || redisUrl === '') throw usage('which Redis? Give --redis-url or set REDIS_URL');
    const timeout = Number(values.timeout ?? '3000');
    if (!Number.isInteger(timeout) || timeout < 1 || timeout > 600_000) {
      throw usage('--timeout is a whole number of ms from 1 to 600000');
    }
    parseRedisUrl(redisUrl);
    connected = await connect(redisUrl, timeout);
    const key = `${prefix}:quota:${tenant}`;
    const { client } = connected;
    if (action === 'set') {
      await client
        .multi()
        .del(key)
        .hset(key, policy as Record<string, string>)
        .exec();
    } else if (action === 'delete') {
      const deleted = (await client.del(key)) > 0;
      io.out(
        values.json
          ? `${JSON.stringify({ tenant, deleted })}\n`
          : `${deleted ? 'deleted' : 'no quota for'} ${tenant}\n`,
      );
      return 0;
    }
    const stored = await client.hgetall(key);
    const shown = Object.keys(stored).length === 0 ? null : stored;
    if (values.json) io.out(`${JSON.stringify({ tenant, quota: shown }, null, 2)}\n`);
    else if (shown === null) io.out(`${tenant}: no quota (the configured limits apply)\n`);
    else {
      const burst = shown.burst === undefined ? '' : `, burst ${shown.burst}`;
      io.out(`${tenant}: ${shown.max} per ${shown.window} ms${burst}\n`);
    }
    return 0;
  } catch (caught) {
    const error = connected === undefined ? caught : redisFailure(caught, connected.shown, connected.timeoutMs);
    const message = error instanceof Error && error.name !== 'Error' ? error.message : describe(error);
    io.err(`tollgate: ${oneLine(message.replace(/^tollgate: /, ''))}\n`);
    return error instanceof CliError ? error.exitCode : EXIT_FAILURE;
  } finally {
    connected?.close();
  }
}

/** The hash fields for `quota set`, checked as a limiter checks a policy. */
function quotaPolicy(values: { max?: string; window?: string; burst?: string }): Record<string, string> {
  if (values.max === undefined || values.window === undefined) throw usage('quota set needs --max and --window');
  const number = (text: string, option: string) => {
    if (!/^\d+$/.test(text)) throw usage(`${option} is a whole number, got "${text}"`);
    return Number(text);
  };
  const max = number(values.max, '--max');
  let windowMs: number;
  try {
    windowMs = parseDuration(/^\d+$/.test(values.window) ? Number(values.window) : values.window, 'window');
  } catch (error) {
    throw usage(`--window: ${(error as Error).message.replace(/^tollgate: /, '')}`);
  }
  const burst = values.burst === undefined ? undefined : number(values.burst, '--burst');
  try {
    new RateLimiter({ max, window: windowMs, ...(burst === undefined ? {} : { burst }) });
  } catch (error) {
    throw usage((error as Error).message.replace(/^tollgate: /, ''));
  }
  return { max: String(max), window: String(windowMs), ...(burst === undefined ? {} : { burst: String(burst) }) };
}
