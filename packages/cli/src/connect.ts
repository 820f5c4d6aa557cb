import { Cluster, Redis } from 'ioredis';
import { CliError, EXIT_UNREACHABLE, EXIT_USAGE } from './errors.js';
import { unreachableReason } from './unreachable.js';

export type Client = Redis | Cluster;

/** A connected client, and the URL as it may be shown (no password). */
export interface Connected {
  readonly client: Client;
  readonly shown: string;
  /** How long any command may take (--timeout). */
  readonly timeoutMs: number;
  close(): void;
}

/** Checks the URL before anything connects: a typo is a usage error, not a network one. */
export function parseRedisUrl(raw: string): URL {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new CliError(
      `"${redactRaw(raw)}" is not a Redis URL: expected redis://[user:password@]host[:port][/db]`,
      EXIT_USAGE,
    );
  }
  if ((url.protocol !== 'redis:' && url.protocol !== 'rediss:') || url.hostname === '') {
    throw new CliError(
      `"${redactRaw(raw)}" is not a Redis URL: expected redis://[user:password@]host[:port][/db] or rediss://…`,
      EXIT_USAGE,
    );
  }
  if (!/^\/?\d*$/.test(url.pathname)) {
    throw new CliError(
      `"${redactRaw(raw)}": the path must be a database number, as in redis://host:6379/0`,
      EXIT_USAGE,
    );
  }
  return url;
}

/** The URL without its password, for messages. */
export function redact(url: URL): string {
  if (url.password === '') return url.href;
  const copy = new URL(url.href);
  copy.password = '***';
  return copy.href;
}

function redactRaw(raw: string): string {
  return raw.replace(/\/\/([^:/@]*):[^@/]*@/, '//$1:***@');
}

/**
 * Connects, failing fast: no retries, no reconnects, and every step bounded by `timeoutMs`, so
 * an unreachable or hung Redis gives one clear error instead of a hang. When the server is a
 * Redis Cluster node, reconnects as a cluster client so keys in every slot can be reached.
 */
export async function connect(raw: string, timeoutMs: number): Promise<Connected> {
  const url = parseRedisUrl(raw);
  const shown = redact(url);
  const options = {
    connectTimeout: timeoutMs,
    commandTimeout: timeoutMs,
    maxRetriesPerRequest: 0,
    retryStrategy: () => null,
  };

  const single = new Redis(url.href, { ...options, lazyConnect: true });
  const failure = await open(single, shown, timeoutMs);
  if (failure !== undefined) throw failure;

  let clusterEnabled = false;
  try {
    clusterEnabled = /^cluster_enabled:1/m.test(await single.info('cluster'));
  } catch (error) {
    single.disconnect();
    throw redisFailure(error, shown, timeoutMs);
  }
  if (!clusterEnabled) return { client: single, shown, timeoutMs, close: () => single.disconnect() };

  single.disconnect();
  const redisOptions = {
    ...options,
    ...(url.username === '' ? {} : { username: decodeURIComponent(url.username) }),
    ...(url.password === '' ? {} : { password: decodeURIComponent(url.password) }),
    ...(url.protocol === 'rediss:' ? { tls: {} } : {}),
  };
  const cluster = new Cluster([{ host: url.hostname, port: Number(url.port || 6379) }], {
    lazyConnect: true,
    redisOptions,
    clusterRetryStrategy: () => null,
    slotsRefreshTimeout: timeoutMs,
    maxRedirections: 4,
  });
  const clusterFailure = await open(cluster, `the Redis Cluster at ${shown}`, timeoutMs);
  if (clusterFailure !== undefined) throw clusterFailure;
  return { client: cluster, shown, timeoutMs, close: () => cluster.disconnect() };
}

/** Opens `client`; on failure disconnects it and returns the error to throw. */
async function open(client: Client, shown: string, timeoutMs: number): Promise<CliError | undefined> {
  // ioredis rejects connect() with "Connection is closed."; the cause arrives as an 'error' event.
  let cause: unknown;
  client.on('error', (error: unknown) => {
    cause ??= error;
  });
  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<'timeout'>((resolve) => {
    timer = setTimeout(() => resolve('timeout'), timeoutMs);
  });
  try {
    const result = await Promise.race([client.connect().then(() => 'ok' as const), timedOut]);
    if (result === 'ok') return undefined;
    client.disconnect();
    return new CliError(`cannot reach Redis at ${shown}: no answer within ${timeoutMs} ms`, EXIT_UNREACHABLE);
  } catch (error) {
    client.disconnect();
    const reason = cause ?? error;
    const message = reason instanceof Error ? reason.message : '';
    if (message.startsWith('NOAUTH')) {
      return new CliError(`Redis at ${shown} requires a password: give it in the URL, redis://:PASSWORD@host:port`);
    }
    if (message.startsWith('WRONGPASS')) return new CliError(`Redis at ${shown} refused the user name or password`);
    const unreachable = unreachableReason(reason, timeoutMs);
    if (unreachable !== undefined)
      return new CliError(`cannot reach Redis at ${shown}: ${unreachable}`, EXIT_UNREACHABLE);
    return new CliError(`cannot reach Redis at ${shown}: ${describe(reason)}`);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * A failed command as the CLI reports it: Redis unreachable or not answering in time (exit 3),
 * or anything else Redis answered (exit 1), naming the server either way.
 */
export function redisFailure(error: unknown, shown: string, timeoutMs: number): CliError {
  if (error instanceof CliError) return error;
  const unreachable = unreachableReason(error, timeoutMs);
  if (unreachable !== undefined) return new CliError(`Redis at ${shown} failed: ${unreachable}`, EXIT_UNREACHABLE);
  return new CliError(`Redis at ${shown} failed: ${describe(error).replace(/^tollgate: /, '')}`);
}

export function describe(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  const code = (error as { code?: unknown }).code;
  if (code === 'ECONNREFUSED') return 'connection refused';
  if (code === 'ENOTFOUND' || code === 'EAI_AGAIN') return 'host not found';
  if (code === 'ETIMEDOUT' || error.message === 'Command timed out') return 'no answer in time';
  return error.message;
}

/** Escapes glob characters for SCAN MATCH. */
export function globEscape(text: string): string {
  return text.replace(/[*?[\]\\]/g, '\\$&');
}

/** Keys matching `pattern`, on every master of a cluster. Stops early when the consumer does. */
export async function* scanKeys(client: Client, pattern: string): AsyncGenerator<string> {
  const nodes = client instanceof Cluster ? client.nodes('master') : [client];
  for (const node of nodes) {
    let cursor = '0';
    do {
      const [next, keys] = await node.scan(cursor, 'MATCH', pattern, 'COUNT', 1000);
      yield* keys;
      cursor = next;
    } while (cursor !== '0');
  }
}
