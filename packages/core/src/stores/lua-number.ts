/**
 * A number as text that Lua's `tonumber` reads back as exactly the same double: a safe integer
 * in decimal, anything else as a C99 hex float (`0x1.8p-3`), which strtod parses exactly and
 * faster than a 17-digit decimal.
 */
export function luaNumber(value: number): string {
  if (Number.isSafeInteger(value)) return String(value);
  if (!Number.isFinite(value)) throw new RangeError(`tollgate: ${value} cannot be sent to Redis`);
  if (value === 0) return '0';
  const view = new DataView(new ArrayBuffer(8));
  view.setFloat64(0, value);
  const high = view.getUint32(0);
  const low = view.getUint32(4);
  const sign = high >>> 31 === 1 ? '-' : '';
  const exponent = (high >>> 20) & 0x7ff;
  const mantissa = ((high & 0xfffff).toString(16).padStart(5, '0') + low.toString(16).padStart(8, '0')).replace(
    /0+$/,
    '',
  );
  const fraction = mantissa === '' ? '' : `.${mantissa}`;
  // Subnormals have no implicit leading 1 and a fixed exponent.
  return exponent === 0 ? `${sign}0x0${fraction}p-1022` : `${sign}0x1${fraction}p${exponent - 1023}`;
}
