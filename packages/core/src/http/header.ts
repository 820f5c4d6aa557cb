/** A request header by lower-case name from Node's `IncomingHttpHeaders`: the first value, if repeated. */
export function firstHeader(
  headers: Readonly<Record<string, string | string[] | undefined>>,
  name: string,
): string | undefined {
  const value = headers[name];
  return Array.isArray(value) ? value[0] : value;
}
