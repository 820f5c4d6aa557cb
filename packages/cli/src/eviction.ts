import { Cluster } from 'ioredis';
import { type Client, describe } from './connect.js';
import { unreachableReason } from './unreachable.js';

/**
 * A warning when Redis may evict live buckets, else undefined. Every tollgate key carries a TTL,
 * so `noeviction` and the `volatile-*` policies are safe; an `allkeys-*` policy lets a full Redis
 * drop a drained client's bucket, and the client gets a fresh allowance. Managed Redis often
 * forbids CONFIG (an ACL, a renamed command): the check then says it could not be made, and the
 * command goes on. An unreachable Redis is thrown, as any command's failure is.
 */
export async function evictionWarning(client: Client, shown: string, timeoutMs: number): Promise<string | undefined> {
  const nodes = client instanceof Cluster ? client.nodes('master') : [client];
  for (const node of nodes) {
    const where = client instanceof Cluster ? `${shown} (node ${node.options.host}:${node.options.port})` : shown;
    let policy: unknown;
    try {
      policy = ((await node.config('GET', 'maxmemory-policy')) as unknown[])[1];
    } catch (error) {
      if (unreachableReason(error, timeoutMs) !== undefined) throw error;
      return `could not check the eviction policy of Redis at ${where} (CONFIG GET maxmemory-policy: ${describe(error)}): it must be noeviction or volatile-*, since an allkeys-* policy can evict live buckets`;
    }
    if (typeof policy === 'string' && policy.startsWith('allkeys-')) {
      return `Redis at ${where} has maxmemory-policy ${policy}: once full it can evict live buckets, giving clients a fresh allowance; run CONFIG SET maxmemory-policy volatile-lru (or noeviction)`;
    }
  }
  return undefined;
}
