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
