import { parseArgs } from 'node:util';
import { type PolicyOptions, parseDuration } from '@tollgate/core';
import type { ClaudeCommand } from './claude.js';
import { CliError, EXIT_USAGE } from './errors.js';

export const HELP = `Usage: tollgate <command> [options]

Commands:
  status <key>   Show a client's buckets (tokens left, time to full) without consuming
  reset <key>    Refill a client's buckets: delete its state (the admin reset)
  usage          Claude API calls, tokens and cost per UTC day and model
  quota set <tenant> --max <n> --window <duration> [--burst <n>] | quota get|delete <tenant>
                 A tenant's limit changed at runtime: limiters with a RedisQuotaSource on this
                 Redis apply it within their quotas.cacheMs (default 5 s)
  claude status <model>   A Claude model family's shared buckets: requests, input and output
                 tokens per minute left, and when each is full again
  claude reset <model>    Refill a Claude model family's buckets (lifts a 429's pause too)

Which Redis (every command):
  --redis-url <url>    redis:// or rediss:// URL; default: the REDIS_URL environment variable.
                       A Redis Cluster node's URL works too: the cluster is detected.
  --timeout <ms>       Give up on connecting or on any command after this long (default 3000)
  --prefix <prefix>    The limiter's (or ClaudeRateLimiter's) \`prefix\` option (default tollgate)
  --json               Print JSON for scripts instead of a table

Which limiter (status, reset): its keys derive from its name, or from its policy without one
  --name <name>        The limiter's \`name\` option
  --max <n> --window <duration> [--burst <n>]
                       The policy of an unnamed limiter, e.g. --max 100 --window 1m; repeat all
                       three in order for a multi-policy limiter
  (neither)            status: every limiter holding state for <key>
  --all                reset: every limiter's buckets for <key>

Which key (status, reset): <key> is the key the limiter was given, unless
  --ip                 <key> is a client IP address, keyed as the HTTP middleware keys it
                       (IPv6 grouped by --ipv6-subnet, default 64)
  --token              <key> is an API token (Bearer or X-API-Key), keyed by its digest as the
                       middleware keys it; give - to read the token from stdin

usage:
  --days <n>           Days to report, today included (default 7, at most 31)

claude status:
  --rpm <n> --itpm <n> --otpm <n>
                       The family's limits as the app gave them (the buckets are named by
                       them; default 50, 30000, 8000)

Exit status: 0 done (nothing to reset included), 1 failed (no such limiter or key, not a bucket,
refused by Redis), 2 bad arguments, 3 Redis unreachable or not answering within --timeout.

Examples:
  tollgate status 203.0.113.7 --ip --name login --redis-url redis://cache:6379
  tollgate reset 203.0.113.7 --ip --max 100 --window 1m
  echo "$TOKEN" | tollgate status - --token --name api --json
  tollgate usage --days 7
  tollgate claude status claude-sonnet-4-5 --rpm 50 --itpm 30000 --otpm 8000
  tollgate claude reset claude-opus-4-6
`;

/** The ledger keeps 31 days of usage (LEDGER_DAYS in @tollgate/core). */
const MAX_DAYS = 31;

const OPTIONS = {
  'redis-url': { type: 'string' },
  timeout: { type: 'string' },
  prefix: { type: 'string' },
  json: { type: 'boolean' },
  name: { type: 'string' },
  max: { type: 'string', multiple: true },
  window: { type: 'string', multiple: true },
  burst: { type: 'string', multiple: true },
  all: { type: 'boolean' },
  ip: { type: 'boolean' },
  'ipv6-subnet': { type: 'string' },
  token: { type: 'boolean' },
  days: { type: 'string' },
  rpm: { type: 'string' },
  itpm: { type: 'string' },
  otpm: { type: 'string' },
  help: { type: 'boolean', short: 'h' },
  version: { type: 'boolean', short: 'v' },
} as const;

type OptionName = keyof typeof OPTIONS;

const CONNECTION: readonly OptionName[] = ['redis-url', 'timeout', 'prefix', 'json'];
const ALLOWED: Record<'status' | 'reset' | 'usage' | 'claude', ReadonlySet<OptionName>> = {
  claude: new Set([...CONNECTION, 'rpm', 'itpm', 'otpm'] as OptionName[]),
  status: new Set([...CONNECTION, 'name', 'max', 'window', 'burst', 'ip', 'ipv6-subnet', 'token'] as OptionName[]),
  reset: new Set([
    ...CONNECTION,
    'name',
    'max',
    'window',
    'burst',
    'all',
    'ip',
    'ipv6-subnet',
    'token',
  ] as OptionName[]),
  usage: new Set([...CONNECTION, 'days'] as OptionName[]),
};

export interface Connection {
  readonly redisUrl: string;
  readonly timeoutMs: number;
}

/** How the limiter was identified: by name, by policy, or not at all (every limiter). */
export type LimiterSpec =
  | { readonly kind: 'name'; readonly name: string }
  | { readonly kind: 'policy'; readonly policies: readonly PolicyOptions[] }
  | { readonly kind: 'any' };

/** The key as the operator typed it, and how to turn it into the limiter's key. */
export interface KeySpec {
  readonly kind: 'raw' | 'ip' | 'token';
  readonly value: string;
  readonly ipv6Subnet: number;
}

interface Common {
  readonly connection: Connection;
  readonly prefix: string;
  readonly json: boolean;
}

export type Command =
  | { readonly command: 'help' }
  | { readonly command: 'version' }
  | (Common & { readonly command: 'status' | 'reset'; readonly key: KeySpec; readonly limiter: LimiterSpec })
  | (Common & { readonly command: 'usage'; readonly days: number })
  | (Common & { readonly command: 'claude'; readonly claude: ClaudeCommand });

const usageError = (message: string) => new CliError(`${message} (see tollgate --help)`, EXIT_USAGE);

/** Parses and checks the command line without touching the network. */
export function parseCommand(argv: readonly string[], env: NodeJS.ProcessEnv): Command {
  let parsed: ReturnType<typeof parseArgs<{ options: typeof OPTIONS; allowPositionals: true }>>;
  try {
    parsed = parseArgs({ args: [...argv], options: OPTIONS, allowPositionals: true, strict: true });
  } catch (error) {
    throw usageError((error as Error).message.replace(/\. To specify a positional argument.*$/s, ''));
  }
  const { values, positionals } = parsed;
  if (values.help || positionals[0] === 'help') return { command: 'help' };
  if (values.version) return { command: 'version' };

  const [command, ...rest] = positionals;
  if (command === undefined) throw usageError('no command given: status, reset, usage or claude');
  if (command !== 'status' && command !== 'reset' && command !== 'usage' && command !== 'claude') {
    throw usageError(`unknown command "${command}": status, reset, usage or claude`);
  }
  for (const option of Object.keys(values) as OptionName[]) {
    if (!ALLOWED[command].has(option)) throw usageError(`--${option} does not apply to ${command}`);
  }

  const common = (): Common => {
    const redisUrl = values['redis-url'] ?? env.REDIS_URL;
    if (redisUrl === undefined || redisUrl === '') throw usageError('which Redis? Give --redis-url or set REDIS_URL');
    return {
      connection: { redisUrl, timeoutMs: wholeNumber(values.timeout, '--timeout', 3000, 1, 600_000) },
      prefix: values.prefix ?? 'tollgate',
      json: values.json ?? false,
    };
  };

  if (command === 'claude') {
    const [action, model, ...extra] = rest;
    if (action !== 'status' && action !== 'reset') throw usageError('claude takes status or reset, then a model id');
    if (model === undefined || extra.length > 0)
      throw usageError(`give one model id, e.g. tollgate claude ${action} claude-sonnet-4-5`);
    const given = [values.rpm, values.itpm, values.otpm];
    if (action === 'reset' && given.some((v) => v !== undefined))
      throw usageError('--rpm, --itpm and --otpm go with claude status');
    if (given.some((v) => v !== undefined) && given.some((v) => v === undefined)) {
      throw usageError('give --rpm, --itpm and --otpm together (or none, for the defaults)');
    }
    const limits =
      values.rpm === undefined
        ? undefined
        : {
            rpm: wholeNumber(values.rpm, '--rpm', 0, 1, Number.MAX_SAFE_INTEGER),
            itpm: wholeNumber(values.itpm, '--itpm', 0, 1, Number.MAX_SAFE_INTEGER),
            otpm: wholeNumber(values.otpm, '--otpm', 0, 1, Number.MAX_SAFE_INTEGER),
          };
    return { ...common(), command, claude: { action, model, limits } };
  }
  if (command === 'usage') {
    if (rest.length > 0) throw usageError(`usage takes no argument, got "${rest[0]}"`);
    const days = wholeNumber(values.days, '--days', 7, 1, MAX_DAYS);
    return { ...common(), command, days };
  }

  if (rest.length !== 1) {
    throw usageError(
      rest.length === 0 ? `${command} needs the key, e.g. tollgate ${command} 203.0.113.7 --ip` : 'give one key',
    );
  }
  const value = rest[0] as string;
  if (value === '') throw usageError('the key is empty');
  if (values.ip && values.token) throw usageError('give --ip or --token, not both');
  if (values['ipv6-subnet'] !== undefined && !values.ip) throw usageError('--ipv6-subnet goes with --ip');
  if (value === '-' && !values.token) throw usageError('reading the key from stdin (-) is for --token');
  const key: KeySpec = {
    kind: values.ip ? 'ip' : values.token ? 'token' : 'raw',
    value,
    ipv6Subnet: wholeNumber(values['ipv6-subnet'], '--ipv6-subnet', 64, 1, 128),
  };

  const limiter = limiterSpec(values);
  if (values.all && limiter.kind !== 'any') {
    throw usageError('--all resets every limiter for the key: give it without --name, --max or --window');
  }
  if (command === 'reset' && limiter.kind === 'any' && !values.all) {
    throw usageError('which limiter? Give --name, or --max and --window, or --all for every limiter');
  }
  return { ...common(), command, key, limiter };
}

function limiterSpec(values: {
  name?: string | undefined;
  max?: string[] | undefined;
  window?: string[] | undefined;
  burst?: string[] | undefined;
}): LimiterSpec {
  const max = values.max ?? [];
  const window = values.window ?? [];
  const burst = values.burst ?? [];
  const byPolicy = max.length > 0 || window.length > 0 || burst.length > 0;
  if (values.name !== undefined && byPolicy) {
    throw usageError("give --name or --max/--window, not both: a named limiter's keys do not depend on its policy");
  }
  if (values.name !== undefined) return { kind: 'name', name: values.name };
  if (!byPolicy) return { kind: 'any' };
  if (max.length !== window.length || max.length === 0) {
    throw usageError('give --max and --window together, once per policy');
  }
  if (burst.length !== 0 && burst.length !== max.length) {
    throw usageError('give --burst for every policy or for none (--burst equal to --max is no burst)');
  }
  const policies = max.map((m, i): PolicyOptions => {
    const policy: PolicyOptions = {
      max: wholeNumber(m, '--max', 0, 1, Number.MAX_SAFE_INTEGER),
      window: windowOf(window[i] as string),
    };
    const b = burst[i];
    return b === undefined ? policy : { ...policy, burst: wholeNumber(b, '--burst', 0, 1, Number.MAX_SAFE_INTEGER) };
  });
  return { kind: 'policy', policies };
}

/** A window as the limiter was given it: `'1m'`, or a plain number of milliseconds. */
function windowOf(text: string): PolicyOptions['window'] {
  const window = /^\d+$/.test(text) ? Number(text) : (text as PolicyOptions['window']);
  try {
    parseDuration(window, '--window');
  } catch {
    throw usageError(`--window "${text}" is not a duration: milliseconds, or 500ms, 30s, 1m, 1h, 1d`);
  }
  return window;
}

function wholeNumber(text: string | undefined, flag: string, fallback: number, min: number, max: number): number {
  if (text === undefined) return fallback;
  const n = /^\d+$/.test(text) ? Number(text) : Number.NaN;
  if (!Number.isSafeInteger(n) || n < min || n > max) {
    const range = max === Number.MAX_SAFE_INTEGER ? `>= ${min}` : `from ${min} to ${max}`;
    throw usageError(`${flag} "${text}" is not a whole number ${range}`);
  }
  return n;
}
