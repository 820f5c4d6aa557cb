import { isIP } from 'node:net';
import ipaddr from 'ipaddr.js';
import { sha256Digest } from '../digest.js';

const CANONICAL_IPV4 = /^(?:(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)\.){3}(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)$/;

/**
 * The key of a client by IP: IPv4 as it is (IPv4-mapped IPv6 unwrapped), IPv6 grouped by its
 * `/subnet` network, since one IPv6 client commonly holds a whole /64. Anything that does not
 * parse as an IP is returned marked, and the store key layer hashes it.
 *
 * A missing address (the framework could not tell who the client is: an app on a Unix socket,
 * or behind a proxy it was not told to trust) has no key: `undefined`. Giving every such
 * request one shared key would let one client exhaust the limit for all of them.
 */
export function ipKey(ip: string | undefined, ipv6Subnet: number): string | undefined {
  if (ip === undefined || ip === '') return undefined;
  // The common case, an IPv4 address already in canonical form, is its own key.
  if (CANONICAL_IPV4.test(ip)) return ip;
  if (isIP(ip) === 0) return `ip:invalid:${sha256Digest(ip)}`;
  let addr = ipaddr.parse(ip);
  if (addr.kind() === 'ipv6' && (addr as ipaddr.IPv6).isIPv4MappedAddress()) {
    addr = (addr as ipaddr.IPv6).toIPv4Address();
  }
  if (addr.kind() === 'ipv4') return addr.toString();
  if (ipv6Subnet === 128) return addr.toNormalizedString();
  const network = ipaddr.IPv6.networkAddressFromCIDR(`${addr.toString()}/${ipv6Subnet}`);
  return `${network.toString()}/${ipv6Subnet}`;
}

/** An API token from `Authorization: Bearer …` or `X-API-Key`, if the request carries one. */
export function bearerToken(authorization: string | undefined, apiKey: string | undefined): string | undefined {
  if (authorization !== undefined) {
    const match = /^Bearer[ \t]+(\S+)\s*$/i.exec(authorization);
    if (match) return match[1];
  }
  const key = apiKey?.trim();
  return key ? key : undefined;
}

/** The key of a client by token: a digest, so the raw token never reaches a store, label or log. */
export function tokenKey(token: string): string {
  return `tok:${sha256Digest(token)}`;
}
