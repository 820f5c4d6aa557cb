/** Failures of the network or of a Redis that stopped answering: retrying later may help. */
const NETWORK_CODES = new Set(['ECONNRESET', 'EPIPE', 'EHOSTUNREACH', 'ENETUNREACH', 'ECONNABORTED']);

/**
 * Why Redis could not be reached or stopped answering, or undefined for any other failure. The
 * error may come from ioredis or wrapped by @tollgate/core (its `cause`), so the chain is read.
 */
export function unreachableReason(error: unknown, timeoutMs: number): string | undefined {
  let e = error;
  for (let depth = 0; e instanceof Error && depth < 5; depth++) {
    const code = (e as { code?: unknown }).code;
    if (code === 'ECONNREFUSED') return 'connection refused';
    if (code === 'ENOTFOUND' || code === 'EAI_AGAIN') return 'host not found';
    if (code === 'ETIMEDOUT' || code === 'TOLLGATE_STORE_TIMEOUT' || e.message === 'Command timed out') {
      return `no answer within ${timeoutMs} ms`;
    }
    if ((typeof code === 'string' && NETWORK_CODES.has(code)) || e.message === 'Connection is closed.') {
      return 'the connection was lost';
    }
    e = e.cause;
  }
  return undefined;
}
