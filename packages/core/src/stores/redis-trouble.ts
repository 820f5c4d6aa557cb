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

export function redisTrouble(error: unknown): RedisTrouble {
  const message = error instanceof Error ? error.message : String(error);
  // Replies from the server: NOPERM (ACL), NOAUTH and WRONGPASS (credentials).
  if (/^(NOPERM|NOAUTH|WRONGPASS)\b/.test(message)) return 'acl';
  const code = (error as { code?: unknown } | null)?.code;
  if (typeof code === 'string' && CONNECTION_CODES.has(code)) return 'connection';
  if (error instanceof Error && error.name === 'MaxRetriesPerRequestError') return 'connection';
  if (/Connection is closed|Stream isn't writeable|\b(EPIPE|ECONNRESET|ECONNREFUSED|ETIMEDOUT)\b/.test(message)) {
    return 'connection';
  }
  return 'other';
}
