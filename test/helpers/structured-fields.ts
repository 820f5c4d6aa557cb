import { type BareItem, type InnerList, type Item, parseDictionary, parseItem, parseList } from 'structured-headers';

/** The largest Structured Field integer (RFC 9651: at most 15 digits). */
const MAX_SF_INTEGER = 999_999_999_999_999;

/** Header fields as `[name, value]` pairs, as tollgate's header functions return them. */
type Fields = ReadonlyArray<readonly [string, string]>;

/** The numbers found in one field: its items' bare integers and their parameters by key. */
export interface ParsedField {
  readonly name: string;
  readonly items: ReadonlyArray<{ readonly value: BareItem; readonly params: ReadonlyMap<string, BareItem> }>;
}

/**
 * Parses every rate-limit field and `Retry-After` with a real RFC 9651 parser, as a client would,
 * and throws if one does not parse or carries a number that is not a whole number from 0 to
 * 999,999,999,999,999 (or, for `Retry-After`, from 1): a parser also "accepts" `t=Infinity`,
 * as a token, so the values are checked too.
 */
export function parseRateLimitFields(fields: Fields): ParsedField[] {
  return fields.map(([name, value]) => {
    const items = parseField(name, value);
    for (const { value: bare, params } of items) {
      // Only draft-11 items are strings (the policy names); every other bare item is a count.
      if (typeof bare !== 'string') {
        if (typeof bare !== 'number') throw new Error(`${name}: an item is not a number: ${value}`);
        wholeNumber(name, bare, name === 'Retry-After' ? 1 : 0);
      }
      for (const [key, param] of params) {
        if (typeof param !== 'number') throw new Error(`${name}: parameter ${key} is not a number: ${value}`);
        wholeNumber(`${name} ${key}`, param, 0);
      }
    }
    return { name, items };
  });
}

function parseField(name: string, value: string): ParsedField['items'] {
  switch (name) {
    case 'RateLimit-Policy':
      return parseList(value).map(item);
    case 'RateLimit':
      // draft-11: a list of named items; draft-7: a dictionary `limit=…, remaining=…, reset=…`.
      return value.startsWith('"') ? parseList(value).map(item) : [...parseDictionary(value).values()].map(item);
    case 'RateLimit-Limit':
    case 'RateLimit-Remaining':
    case 'RateLimit-Reset':
    case 'X-RateLimit-Limit':
    case 'X-RateLimit-Remaining':
    case 'X-RateLimit-Reset':
    case 'Retry-After': {
      if (!/^\d+$/.test(value)) throw new Error(`${name} is not a whole number: ${value}`);
      const parsed = parseItem(value);
      if (typeof parsed[0] !== 'number') throw new Error(`${name} is not an integer: ${value}`);
      return [item(parsed)];
    }
    default:
      throw new Error(`not a rate-limit field: ${name}`);
  }
}

function item(entry: Item | InnerList): ParsedField['items'][number] {
  const [value, params] = entry;
  if (Array.isArray(value)) throw new Error('an inner list where an item was expected');
  return { value, params };
}

function wholeNumber(where: string, n: number, min: number): void {
  if (!Number.isInteger(n) || n < min || n > MAX_SF_INTEGER) {
    throw new Error(`${where}: ${n} is not a whole number from ${min} to ${MAX_SF_INTEGER}`);
  }
}
