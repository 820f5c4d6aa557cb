/**
 * `@tollgate/core/stored-format`: what tollgate writes to a store, for tools that read or name it
 * outside a limiter (the `tollgate` CLI, adapters that name limiters, tests). Documented in
 * docs/redis.md. A change to anything here moves or misreads buckets that are already stored.
 */

export { type DigestInput, scriptSha, sha256Digest } from './digest.js';
export {
  decodeBuckets,
  encodeBuckets,
  legacyHashIds,
  type PolicyIdParts,
  parsePolicyId,
  policyId,
  type StoredBuckets,
} from './stores/bucket-codec.js';
export { type BucketStanding, bucketStanding } from './stores/bucket-standing.js';
