import { createConnection, createServer, type Server, type Socket } from 'node:net';
import { RateLimiter, RedisStore } from '@tollgate/core';
import { ClaudeRateLimiter } from '@tollgate/llm';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RedisProcess, redis } from '../helpers/redis.js';
import { ensureBuilt, runCli } from './run-cli.js';

beforeAll(() => ensureBuilt());

/** Each reply arrives this late: slower than the library's own default bounds (500 and 1000 ms). */
const DELAY_MS = 1100;

/**
 * A TCP proxy on loopback that holds every reply of the Redis behind it for `delayMs`, in order:
 * a far or loaded Redis, which answers, only slowly.
 */
async function slowProxy(port: number, delayMs: number): Promise<{ url: string; close(): Promise<void> }> {
  const sockets = new Set<Socket>();
  const server: Server = createServer((client) => {
    const upstream = createConnection({ host: '127.0.0.1', port });
    sockets.add(client).add(upstream);
    client.pipe(upstream);
    upstream.on('data', (chunk: Buffer) => {
      setTimeout(() => client.writable && client.write(chunk), delayMs);
    });
    const close = () => {
      client.destroy();
      upstream.destroy();
      sockets.delete(client);
      sockets.delete(upstream);
    };
    client.on('error', close).on('close', close);
    upstream.on('error', close).on('close', () => setTimeout(close, delayMs));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  const proxyPort = typeof address === 'object' && address !== null ? address.port : 0;
  return {
    url: `redis://127.0.0.1:${proxyPort}`,
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}

// --timeout is the bound of every command, not the library's defaults underneath: a Redis that
// answers each command in 1.1 s is read with --timeout 5000, and given up on with --timeout 500.
describe.skipIf(!redis.binary)('tollgate CLI on a slow Redis: --timeout is the bound', () => {
  let server: RedisProcess;
  let proxy: { url: string; close(): Promise<void> };

  beforeAll(async () => {
    server = await RedisProcess.start();
    const client = new Redis(server.url);
    const store = new RedisStore({ client });
    await new RateLimiter({ store, name: 'login', max: 5, window: '15m' }).consume('203.0.113.7');
    await new ClaudeRateLimiter({ redis: client }).recordUsage('claude-haiku-4-5', {
      input_tokens: 10,
      output_tokens: 5,
    });
    await store.close();
    client.disconnect();
    proxy = await slowProxy(server.port, DELAY_MS);
  });
  afterAll(async () => {
    await proxy.close();
    await server.stop();
  });

  it.each([
    ['status', '203.0.113.7', '--ip', '--name', 'login', '--json'],
    ['usage', '--days', '31', '--json'],
  ])('%s %s %s: answers within --timeout 5000', async (...command) => {
    const result = await runCli([...command, '--redis-url', proxy.url, '--timeout', '5000']);
    expect({ code: result.code, stderr: result.stderr }).toEqual({ code: 0, stderr: '' });
    const out = JSON.parse(result.stdout);
    if (command[0] === 'usage') expect(out).toMatchObject({ calls: 1 });
    else expect(JSON.stringify(out)).toContain('"remaining":4');
  });

  it('gives up with --timeout 500: exit 3, naming the bound', async () => {
    const result = await runCli(['usage', '--redis-url', proxy.url, '--timeout', '500']);
    expect(result.code).toBe(3);
    expect(result.stderr).toMatch(
      /^tollgate: cannot reach Redis at redis:\/\/127\.0\.0\.1:\d+\/?: no answer within 500 ms\n$/,
    );
  });
});
