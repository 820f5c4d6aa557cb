import { createRequire } from 'node:module';
import { HELP, type KeySpec, parseCommand } from './args.js';
import { type BucketStatus, type ResetResult, reset, status, validate } from './buckets.js';
import { claudeFamily, formatClaude, validateClaude } from './claude.js';
import { type Connected, connect, describe, parseRedisUrl, redisFailure } from './connect.js';
import { CliError, EXIT_FAILURE, oneLine } from './errors.js';
import { evictionWarning } from './eviction.js';
import { quota } from './quota.js';
import { count, duration, table } from './table.js';
import { formatUsage, usage, validateUsagePrefix } from './usage.js';

export interface Io {
  readonly env: NodeJS.ProcessEnv;
  out(text: string): void;
  err(text: string): void;
  /** The whole of stdin, for `--token -`. */
  readStdin(): Promise<string>;
}

/** Runs one command; returns the exit status. Every failure is one line on stderr. */
export async function main(argv: readonly string[], io: Io): Promise<number> {
  if (argv[0] === 'quota') return quota(argv.slice(1), io);
  let connected: Connected | undefined;
  try {
    const command = parseCommand(argv, io.env);
    if (command.command === 'help') {
      io.out(HELP);
      return 0;
    }
    if (command.command === 'version') {
      io.out(`${createRequire(import.meta.url)('../package.json').version}\n`);
      return 0;
    }
    // Everything that can be checked offline is checked before connecting.
    parseRedisUrl(command.connection.redisUrl);
    if (command.command === 'claude') {
      await validateClaude(command.claude, command.prefix);
      connected = await connect(command.connection.redisUrl, command.connection.timeoutMs);
      const result = await claudeFamily(connected.client, command.prefix, command.claude, connected.timeoutMs);
      io.out(command.json ? json(result) : formatClaude(result, command.prefix));
      return 0;
    }
    if (command.command === 'usage') {
      validateUsagePrefix(command.prefix);
      connected = await connect(command.connection.redisUrl, command.connection.timeoutMs);
      const stats = await usage(connected.client, command.prefix, command.days, connected.timeoutMs);
      io.out(command.json ? json(stats) : `${formatUsage(stats, command.prefix)}\n`);
      return 0;
    }

    let key = command.key;
    if (key.kind === 'token' && key.value === '-') {
      const token = (await io.readStdin()).trim();
      if (token === '') throw new CliError('no token on stdin');
      key = { ...key, value: token };
    }
    validate(command.limiter, key, command.prefix);
    connected = await connect(command.connection.redisUrl, command.connection.timeoutMs);
    // With a limiter named, one result; without (status of every limiter, reset --all), a list. A
    // name with keys under two policies (a rollout that changed them) has two: a list too.
    const single = command.limiter.kind !== 'any';
    const one = <T>(found: readonly T[]) => (single && found.length === 1 ? found[0] : found);
    if (command.command === 'status') {
      const warning = await evictionWarning(connected.client, connected.shown, connected.timeoutMs);
      if (warning !== undefined) io.err(`tollgate: warning: ${oneLine(warning)}\n`);
      const found = await status(connected.client, command.limiter, key, command.prefix, connected.timeoutMs);
      io.out(command.json ? json(one(found)) : formatStatus(found));
    } else {
      const done = await reset(connected.client, command.limiter, key, command.prefix);
      io.out(command.json ? json(one(done)) : formatReset(done, command.prefix, key));
    }
    return 0;
  } catch (caught) {
    // Once connected, a failure is Redis's: named, and told apart when it did not answer (exit 3).
    const error = connected === undefined ? caught : redisFailure(caught, connected.shown, connected.timeoutMs);
    const message = error instanceof CliError || isTollgateError(error) ? (error as Error).message : describe(error);
    io.err(`tollgate: ${oneLine(message.replace(/^tollgate: /, ''))}\n`);
    return error instanceof CliError ? error.exitCode : EXIT_FAILURE;
  } finally {
    connected?.close();
  }
}

function isTollgateError(error: unknown): boolean {
  return error instanceof Error && typeof (error as { code?: unknown }).code === 'string' && error.name !== 'Error';
}

const json = (value: unknown) => `${JSON.stringify(value, null, 2)}\n`;

function formatStatus(found: readonly BucketStatus[]): string {
  return found
    .map((s) => {
      const who = s.limiter.name === null ? `unnamed limiter ${s.limiter.label}` : `limiter "${s.limiter.name}"`;
      const rows = s.policies.map((p) => [
        p.policy,
        count(p.limit),
        count(p.remaining),
        p.tokens.toFixed(3),
        duration(p.resetMs),
        duration(p.retryAfterMs),
      ]);
      const header = ['policy', 'limit', 'remaining', 'tokens', 'full in', 'next token in'];
      const retry = Math.max(...s.policies.map((p) => p.retryAfterMs));
      const verdict = s.allowed
        ? 'A request now would be admitted.'
        : `A request now would be refused (429); retry in ${duration(retry)}.`;
      const state = s.stored ? '' : ' (nothing stored: buckets full)';
      return `${s.redisKey}  ${who}${state}\n${table(header, rows, new Set([1, 2, 3, 4, 5]))}\n${verdict}\n`;
    })
    .join('\n');
}

function formatReset(done: readonly ResetResult[], prefix: string, key: KeySpec): string {
  if (done.length === 0) {
    const shown = key.kind === 'token' ? 'that token' : `"${key.value}"`;
    return `Nothing to reset: no limiter under prefix "${prefix}" holds state for ${shown} (its buckets are full everywhere).\n`;
  }
  return done
    .map((r) =>
      r.reset
        ? `Reset ${r.redisKey}: its buckets are full again.\n`
        : `Nothing to reset: ${r.redisKey} holds no state (its buckets are already full).\n`,
    )
    .join('');
}
