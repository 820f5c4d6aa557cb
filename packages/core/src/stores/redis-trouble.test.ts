import { SocketClosedUnexpectedlyError } from '@redis/client/dist/lib/errors.js';
import { ClosingError, ConnectionError } from '@valkey/valkey-glide';
import { describe, expect, it } from 'vitest';
import { redisTrouble } from './redis-trouble.js';

function errno(message: string, code: string): Error {
  return Object.assign(new Error(message), { code });
}

describe('redisTrouble', () => {
  it('tells a lost connection from an ACL refusal', () => {
    expect(redisTrouble(errno('write EPIPE', 'EPIPE'))).toBe('connection');
    expect(redisTrouble(errno('read ECONNRESET', 'ECONNRESET'))).toBe('connection');
    expect(redisTrouble(new Error('Connection is closed.'))).toBe('connection');
    expect(redisTrouble(new Error("NOPERM User app has no permissions to run the 'publish' command"))).toBe('acl');
    expect(redisTrouble(new Error('NOPERM No permissions to access a channel'))).toBe('acl');
    expect(redisTrouble(new Error('NOAUTH Authentication required.'))).toBe('acl');
    expect(redisTrouble(new Error('ERR unknown command'))).toBe('other');
  });

  it("knows node-redis's and Valkey GLIDE's lost connections", () => {
    expect(redisTrouble(new SocketClosedUnexpectedlyError())).toBe('connection');
    expect(redisTrouble(new ConnectionError('disconnected'))).toBe('connection');
    expect(redisTrouble(new ClosingError('closed'))).toBe('connection');
  });
});
