import { decodeBuckets, encodeBuckets } from '../../packages/core/src/stores/bucket-codec.js';

/**
 * A stored bucket set as the tests read and plant it, through the one codec the CLI uses
 * (packages/core/src/stores/bucket-codec.ts): expiry, time of the last write, tokens per bucket,
 * then the spec (the policy ids joined by ',').
 */
export interface StoredState {
  expires: number;
  since: number;
  tokens: number[];
  spec: string;
}

/** Decodes what the script stored for a limiter of `buckets` policies; throws on anything else. */
export function decode(value: Buffer, buckets: number): StoredState {
  const state = decodeBuckets(value);
  if (state === undefined || state.tokens.length !== buckets) {
    throw new Error(`not a stored set of ${buckets} bucket(s): ${value.toString('hex')}`);
  }
  return { expires: state.expires, since: state.since, tokens: [...state.tokens], spec: state.ids.join(',') };
}

/**
 * The bytes of a stored bucket set, as the script writes them (for tests that plant a state).
 * Anything goes, malformed states included: NaN, fewer tokens than ids, a spec of any bytes.
 */
export function encode(state: { expires: number; since: number; tokens: readonly number[]; spec: string }): Buffer {
  return encodeBuckets({ ...state, ids: state.spec.split(',') });
}
