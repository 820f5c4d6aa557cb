/** A stored bucket set: expiry, time of the last write, tokens per bucket (doubles), then the spec. */
export function decode(value: Buffer, buckets: number) {
  const tokens = Array.from({ length: buckets }, (_, i) => value.readDoubleLE(16 + 8 * i));
  return {
    expires: value.readDoubleLE(0),
    since: value.readDoubleLE(8),
    tokens,
    spec: value.subarray(16 + 8 * buckets).toString('latin1'),
  };
}

/** The bytes of a stored bucket set, as the script writes them (for tests that plant a state). */
export function encode(state: { expires: number; since: number; tokens: readonly number[]; spec: string }): Buffer {
  const head = Buffer.alloc(16 + 8 * state.tokens.length);
  head.writeDoubleLE(state.expires, 0);
  head.writeDoubleLE(state.since, 8);
  for (const [i, t] of state.tokens.entries()) head.writeDoubleLE(t, 16 + 8 * i);
  return Buffer.concat([head, Buffer.from(state.spec, 'latin1')]);
}
