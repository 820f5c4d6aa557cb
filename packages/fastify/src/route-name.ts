import { sha256Digest } from '@tollgate/core/stored-format';
import type { RouteOptions } from 'fastify';

/** The exact method(s) of a route. */
export function methodsOf(route: RouteOptions): string {
  return Array.isArray(route.method) ? route.method.join(',') : route.method;
}

/**
 * What tells a route apart from the others with the same URL: its constraints (`version`,
 * `host`), if any, written the same way whatever their order; '' without.
 */
export function constraintsOf(route: RouteOptions): string {
  const constraints = route.constraints as Record<string, unknown> | undefined;
  if (constraints === undefined || Object.keys(constraints).length === 0) return '';
  const names = Object.keys(constraints).sort();
  // A RegExp (a host constraint) would stringify as {}: every pattern the same.
  return JSON.stringify(names.map((name) => [name, String(constraints[name])]));
}

/**
 * A route limiter's default name, the same in every instance of the app. Distinct routes must
 * never share buckets, so the name ends in a digest of the exact method, URL and constraints: a
 * readable part alone folds `/report/export` and `/report.export` together.
 */
export function routeLimiterName(methods: string, url: string, constraints = ''): string {
  // UTF-16 code units, not UTF-8: lone surrogates would all encode to U+FFFD and collide.
  const identity = Buffer.from(`${methods} ${url} ${constraints}`, 'utf16le');
  const digest = sha256Digest(identity, { encoding: 'hex', length: 12 });
  const readable = `${methods.replace(/,/g, '-')}${url.replace(/\//g, '.').replace(/[^A-Za-z0-9_.-]+/g, '_')}`;
  return `${readable.slice(0, 64 - 13)}.${digest}`;
}

/**
 * What clients see as a route limit's policy name: `GET /api/login` (`GET|POST /x` for several
 * methods). Quoted as a Structured Field string, so `"` and `\`, controls and non-ASCII are
 * percent-encoded, and a long route cut; so are `,` and `;`, which clients that split the field
 * by hand (as docs/headers.md's example does) would take for item and parameter separators.
 */
export function routePolicyName(methods: string, url: string): string {
  const name = `${methods.replace(/,/g, '|')} ${url}`.replace(
    /[^\x20-\x21\x23-\x2b\x2d-\x3a\x3c-\x5b\x5d-\x7e]/gu,
    percentEncode,
  );
  return name.length <= 128 ? name : `${name.slice(0, 125)}...`;
}

/** `%XX` per UTF-8 byte (a lone surrogate as U+FFFD): a name for people, not an identity. */
function percentEncode(char: string): string {
  let out = '';
  for (const byte of Buffer.from(char, 'utf8')) out += `%${byte.toString(16).toUpperCase().padStart(2, '0')}`;
  return out;
}
