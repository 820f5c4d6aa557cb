import { isIP } from 'node:net';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { bearerToken, ipKey, tokenKey } from './client-key.js';

describe('ipKey', () => {
  it('keeps IPv4 as it is', () => {
    expect(ipKey('203.0.113.7', 64)).toBe('203.0.113.7');
    expect(ipKey('127.0.0.1', 64)).toBe('127.0.0.1');
    expect(ipKey('203.0.113.7', 64)).not.toBe(ipKey('203.0.113.8', 64));
  });

  it('unwraps IPv4-mapped IPv6 to the IPv4 address', () => {
    expect(ipKey('::ffff:203.0.113.7', 64)).toBe('203.0.113.7');
    expect(ipKey('::FFFF:203.0.113.7', 64)).toBe('203.0.113.7');
    expect(ipKey('::ffff:cb00:7107', 64)).toBe('203.0.113.7');
    expect(ipKey('::ffff:203.0.113.7', 128)).toBe('203.0.113.7');
  });

  it('groups IPv6 by /64', () => {
    const a = ipKey('2001:db8:1:2:aaaa:bbbb:cccc:dddd', 64);
    const b = ipKey('2001:db8:1:2::1', 64);
    const c = ipKey('2001:0db8:0001:0002:0000:0000:0000:ffff', 64);
    expect(a).toBe(b);
    expect(a).toBe(c);
    expect(a).toBe('2001:db8:1:2::/64');
    expect(ipKey('2001:db8:1:3::1', 64)).not.toBe(a);
    expect(ipKey('2001:db8:2:2::1', 64)).not.toBe(a);
  });

  it('the same /64 gives the same key for any host bits; another /64 never does', () => {
    const hex = fc.integer({ min: 0, max: 0xffff }).map((n) => n.toString(16));
    const groups = (n: number) => fc.array(hex, { minLength: n, maxLength: n });
    fc.assert(
      fc.property(groups(4), groups(4), groups(4), groups(4), (net1, host1, net2, host2) => {
        const k1 = ipKey([...net1, ...host1].join(':'), 64);
        const k2 = ipKey([...net1, ...host2].join(':'), 64);
        const k3 = ipKey([...net2, ...host1].join(':'), 64);
        expect(k1).toBe(k2);
        const sameNet = net1.every((g, i) => Number.parseInt(g, 16) === Number.parseInt(net2[i] as string, 16));
        expect(k1 === k3).toBe(sameNet);
      }),
      { numRuns: 300 },
    );
  });

  it('honours other subnet lengths', () => {
    expect(ipKey('2001:db8:1:2::1', 48)).toBe('2001:db8:1::/48');
    expect(ipKey('2001:db8:1:2::1', 48)).toBe(ipKey('2001:db8:1:ffff::1', 48));
    expect(ipKey('2001:db8:1:2:3::1', 56)).toBe(ipKey('2001:db8:1:2:ff::1', 56));
    expect(ipKey('2001:db8:1:2ff::1', 56)).not.toBe(ipKey('2001:db8:1:1ff::1', 56));
  });

  it('keeps each address apart at /128', () => {
    const a = ipKey('2001:db8::1', 128);
    const b = ipKey('2001:db8::2', 128);
    expect(a).not.toBe(b);
    expect(a).toBe(ipKey('2001:0db8:0000:0000:0000:0000:0000:0001', 128));
  });

  it('handles a link-local address with a zone id', () => {
    expect(ipKey('fe80::1%eth0', 64)).toBe(ipKey('fe80::2%eth1', 64));
  });

  it('gives a missing address no key, rather than one key shared by every such client', () => {
    expect(ipKey(undefined, 64)).toBeUndefined();
    expect(ipKey('', 64)).toBeUndefined();
  });

  it.each(['abc', '1.2.3.4; DROP', '1.2.3.4, 5.6.7.8', '999.1.1.1', '{hash}', 'x'.repeat(5000), '1.2.3.4\r\nX: y'])(
    'never echoes garbage %j raw',
    (garbage) => {
      const key = ipKey(garbage, 64);
      expect(key).not.toContain(garbage);
      expect(key).toMatch(/^ip:invalid:[A-Za-z0-9_-]+$/);
      expect(key?.length).toBeLessThan(60);
      expect(ipKey(garbage, 64)).toBe(key);
    },
  );

  it('anything that is not an IP gets a digest key, distinct per input', () => {
    expect(ipKey('abc', 64)).not.toBe(ipKey('abd', 64));
    fc.assert(
      fc.property(
        fc.string({ minLength: 1 }).filter((s) => isIP(s) === 0),
        (s) => {
          const key = ipKey(s, 64);
          expect(key).toMatch(/^ip:invalid:[A-Za-z0-9_-]{32}$/);
          if (s.length >= 8) expect(key).not.toContain(s);
        },
      ),
      { numRuns: 300 },
    );
  });
});

describe('bearerToken', () => {
  it('reads Authorization: Bearer, case-insensitively', () => {
    expect(bearerToken('Bearer abc.def-123', undefined)).toBe('abc.def-123');
    expect(bearerToken('bearer tok', undefined)).toBe('tok');
    expect(bearerToken('BEARER tok', undefined)).toBe('tok');
    expect(bearerToken('Bearer \t tok  ', undefined)).toBe('tok');
  });

  it('prefers Authorization over X-API-Key', () => {
    expect(bearerToken('Bearer from-auth', 'from-key')).toBe('from-auth');
  });

  it('falls back to X-API-Key', () => {
    expect(bearerToken(undefined, 'key-1')).toBe('key-1');
    expect(bearerToken(undefined, '  key-1  ')).toBe('key-1');
    expect(bearerToken('Basic dXNlcjpwYXNz', 'key-2')).toBe('key-2');
    expect(bearerToken('Bearer', 'key-3')).toBe('key-3');
    expect(bearerToken('Bearer two words', 'key-4')).toBe('key-4');
    expect(bearerToken('Bearertok', 'key-5')).toBe('key-5');
  });

  it('is undefined when there is no token', () => {
    expect(bearerToken(undefined, undefined)).toBeUndefined();
    expect(bearerToken('', '')).toBeUndefined();
    expect(bearerToken('Basic dXNlcjpwYXNz', undefined)).toBeUndefined();
    expect(bearerToken('Bearer ', '   ')).toBeUndefined();
  });
});

describe('tokenKey', () => {
  it('is stable and distinct per token', () => {
    expect(tokenKey('sk-live-abcdef123456')).toBe(tokenKey('sk-live-abcdef123456'));
    expect(tokenKey('sk-live-abcdef123456')).not.toBe(tokenKey('sk-live-abcdef123457'));
    expect(tokenKey('x')).toMatch(/^tok:[A-Za-z0-9_-]{32}$/);
  });

  it('never contains the token', () => {
    expect(tokenKey('sk-live-abcdef123456')).not.toContain('sk-live-abcdef123456');
    expect(tokenKey('tok:abc')).not.toContain('tok:abc');
    fc.assert(
      fc.property(fc.string({ minLength: 8, maxLength: 200 }), (token) => {
        const key = tokenKey(token);
        expect(key).not.toContain(token);
        expect(key).toMatch(/^tok:[A-Za-z0-9_-]{32}$/);
      }),
      { numRuns: 500 },
    );
  });
});
