/**
 * The stored form of one client's buckets in Redis, written and read by the bucket script
 * (stores/redis-script.ts), and read here for everything outside Redis: the CLI and the tests.
 * This file is the reference for the layout; the Lua script follows it.
 *
 * A string of bytes: little-endian IEEE doubles, then the bucket ids.
 *
 *   offset 0        the ms (server clock) at which the key expires
 *   offset 8        `since`: the ms (server clock) of the last write
 *   offset 16 + 8i  bucket i's tokens at `since`, one double per policy
 *   then            the policies' ids (`policyId`), in the limiter's order, joined by ','
 *
 * Doubles keep tokens exact (no decimal formatting), and the script rewrites `since` and the
 * tokens in place (SETRANGE at offset 8). The ids say which policies the tokens belong to (a limiter's
 * key carries its policy ids too, so a changed policy is a new key; the ids in the value guard
 * against a key written by something else, and let the CLI read a bucket without the app). An older tollgate wrote a
 * hash instead: a field `ts` (`since`) and one field per policy id (`legacyHashIds`).
 */

/** What a stored bucket set holds. */
export interface StoredBuckets {
  /** When the key expires: ms on the Redis server's clock. */
  readonly expires: number;
  /** When the tokens were written: ms on the Redis server's clock. */
  readonly since: number;
  /** Each bucket's tokens at `since`, in the order of `ids`. */
  readonly tokens: readonly number[];
  /** The id of each bucket's policy. */
  readonly ids: readonly string[];
}

const DOUBLE = 8;
/** The doubles before the tokens: the expiry and `since`. */
const HEAD = 2 * DOUBLE;
const SEPARATOR = ',';
/** The ids the script recognises when the stored ones differ from its own: letters, digits, `.:_-`. */
const IDS = /^[\w.:-]+(?:,[\w.:-]+)*$/;

/** The bytes of a stored bucket set, as the script writes them. */
export function encodeBuckets(state: StoredBuckets): Buffer {
  const head = Buffer.alloc(HEAD + DOUBLE * state.tokens.length);
  head.writeDoubleLE(state.expires, 0);
  head.writeDoubleLE(state.since, DOUBLE);
  for (const [i, t] of state.tokens.entries()) head.writeDoubleLE(t, HEAD + DOUBLE * i);
  return Buffer.concat([head, Buffer.from(state.ids.join(SEPARATOR), 'latin1')]);
}

/**
 * Reads a stored bucket set, or undefined when the bytes are not one. The number of buckets is
 * found as the script finds it for a value written for other policies: the first n for which
 * what follows n + 2 doubles is n well-formed ids. (The script looks at most 16 buckets far;
 * nothing here needs that bound.) Whether the numbers are usable (finite, a plausible time) is
 * the script's decision, not the layout's.
 */
export function decodeBuckets(value: Uint8Array): StoredBuckets | undefined {
  const bytes = Buffer.from(value.buffer, value.byteOffset, value.byteLength);
  for (let n = 1; HEAD + DOUBLE * n < bytes.length; n++) {
    const spec = bytes.subarray(HEAD + DOUBLE * n).toString('latin1');
    if (!IDS.test(spec)) continue;
    const ids = spec.split(SEPARATOR);
    if (ids.length !== n) continue;
    const tokens = Array.from({ length: n }, (_, i) => bytes.readDoubleLE(HEAD + DOUBLE * i));
    return { expires: bytes.readDoubleLE(0), since: bytes.readDoubleLE(DOUBLE), tokens, ids };
  }
  return undefined;
}

/** The policy ids of a bucket set an older tollgate stored as a hash (fields `ts` and one per id). */
export function legacyHashIds(fields: Readonly<Record<string, string>>): string[] {
  return Object.keys(fields).filter((field) => field !== 'ts');
}

/** What a policy id says: a policy's `max` per `windowMs`, and its bucket's capacity. */
export interface PolicyIdParts {
  readonly max: number;
  readonly windowMs: number;
  readonly capacity: number;
}

const POLICY_ID = /^(\d+)-(\d+)-(\d+)$/;

/** A policy's id, stored with its bucket (and in an unnamed limiter's keys): `max-windowMs-capacity`. */
export function policyId({ max, windowMs, capacity }: PolicyIdParts): string {
  return `${max}-${windowMs}-${capacity}`;
}

/** The parts of a policy id, or undefined when `id` is not one. */
export function parsePolicyId(id: string): PolicyIdParts | undefined {
  const match = POLICY_ID.exec(id);
  if (match === null) return undefined;
  return { max: Number(match[1]), windowMs: Number(match[2]), capacity: Number(match[3]) };
}
