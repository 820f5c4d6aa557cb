/**
 * What kind of failure a Redis error is, so a log line says what happened: a connection that was
 * lost (a restart, a network blip: `write EPIPE`, `ECONNRESET`, "Connection is closed") is not an
 * ACL that forbids a command (`NOPERM`), and only the latter needs anyone to change anything.
 */
export type RedisTrouble = 'acl' | 'connection' | 'other';

const CONNECTION_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'EPIPE',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENOTFOUND',
  'EAI_AGAIN',
]);

/** Errors of a lost or closed connection, by class: ioredis, node-redis, Valkey GLIDE. */
const CONNECTION_ERRORS = new Set([
  'MaxRetriesPerRequestError',
  'SocketClosedUnexpectedlyError',
  'ClientClosedError',
  'ClientOfflineError',
  'ConnectionTimeoutError',
  'DisconnectsClientError',
  'ConnectionError',
  'ClosingError',
]);

export function redisTrouble(error: unknown): RedisTrouble {
  const message = error instanceof Error ? error.message : String(error);
  // Replies from the server: NOPERM (ACL), NOAUTH and WRONGPASS (credentials).
  if (/^(NOPERM|NOAUTH|WRONGPASS)\b/.test(message)) return 'acl';
  const code = (error as { code?: unknown } | null)?.code;
  if (typeof code === 'string' && CONNECTION_CODES.has(code)) return 'connection';
  if (error instanceof Error && (CONNECTION_ERRORS.has(error.name) || CONNECTION_ERRORS.has(error.constructor.name))) {
    return 'connection';
  }
  if (
    /Connection is closed|Stream isn't writeable|Socket closed unexpectedly|The client is (closed|offline)|\b(EPIPE|ECONNRESET|ECONNREFUSED|ETIMEDOUT)\b/.test(
      message,
    )
  ) {
    return 'connection';
  }
  return 'other';
}
