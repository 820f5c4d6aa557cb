import { ErrorCodes, type RateLimitPluginOptions, rateLimit, TollgateError } from '@tollgate/fastify';
import { describe, expect, it } from 'vitest';
import { closeAppsAfterEach, fastify, get, start } from './support.js';

closeAppsAfterEach();

/** The error that registering the plugin with `options` fails with, from `register` or from `ready`. */
async function registerError(options: Record<string, unknown>): Promise<TollgateError> {
  const app = fastify();
  try {
    await app.register(rateLimit, options as unknown as RateLimitPluginOptions);
    await app.ready();
  } catch (error) {
    expect(error).toBeInstanceOf(TollgateError);
    return error as TollgateError;
  }
  throw new Error('expected register or ready to reject');
}

/** The error that declaring a route with `rateLimit` as its config fails with, when declared or at `ready`. */
async function routeError(rateLimitConfig: Record<string, unknown>, pluginOptions: Record<string, unknown>) {
  const app = fastify();
  await app.register(rateLimit, pluginOptions as unknown as RateLimitPluginOptions);
  try {
    app.get('/r', { config: { rateLimit: rateLimitConfig as never } }, async () => 'ok');
    await app.ready();
  } catch (error) {
    expect(error).toBeInstanceOf(TollgateError);
    return error as TollgateError;
  }
  throw new Error('expected the route declaration or ready to reject');
}

// label, options, code, option named, value echoed
type Case = [string, Record<string, unknown>, string, string, string];

const badPolicies: Case[] = [
  ['max 0', { max: 0, window: '1m' }, ErrorCodes.INVALID_OPTION, 'max', '0'],
  ['max as a string', { max: '10', window: '1m' }, ErrorCodes.INVALID_OPTION, 'max', '"10"'],
  ['max NaN', { max: Number.NaN, window: '1m' }, ErrorCodes.INVALID_OPTION, 'max', 'NaN'],
  ["window '1 minute'", { max: 10, window: '1 minute' }, ErrorCodes.INVALID_OPTION, 'window', '"1 minute"'],
  ['missing window', { max: 10 }, ErrorCodes.INVALID_OPTION, 'window', 'undefined'],
  ['unknown option maxx', { max: 10, window: '1m', maxx: 5 }, ErrorCodes.UNKNOWN_OPTION, 'maxx', '5'],
];

const badBehaviour: Case[] = [
  ["headers 'draft-9'", { headers: 'draft-9' }, ErrorCodes.INVALID_OPTION, 'headers', '"draft-9"'],
  ["key 'cookie'", { key: 'cookie' }, ErrorCodes.INVALID_OPTION, 'key', '"cookie"'],
  ["failMode 'sideways'", { failMode: 'sideways' }, ErrorCodes.INVALID_OPTION, 'failMode', '"sideways"'],
  ['handler not a function', { handler: 'x' }, ErrorCodes.INVALID_OPTION, 'handler', '"x"'],
  ['timeoutMs 0', { timeoutMs: 0 }, ErrorCodes.INVALID_OPTION, 'timeoutMs', '0'],
  ['store not a store', { store: {} }, ErrorCodes.INVALID_OPTION, 'store', 'an object'],
  ['unknown option heders', { heders: 'legacy' }, ErrorCodes.UNKNOWN_OPTION, 'heders', '"legacy"'],
];

function expectNames(error: TollgateError, code: string, option: string, echoed: string) {
  expect(error.code).toBe(code);
  expect(error.message).toContain(`\`${option}\``);
  expect(error.message).toContain(echoed);
}

describe('bad plugin options reject register / ready with a coded TollgateError', () => {
  it.each([
    ...badPolicies,
    ...badBehaviour.map(([label, options, ...rest]): Case => [label, { max: 5, window: '1m', ...options }, ...rest]),
  ])('%s', async (_label, options, code, option, echoed) => {
    expectNames(await registerError(options), code, option, echoed);
  });

  it('the error says the same as the Koa and Express adapters would', async () => {
    const error = await registerError({ max: 0, window: '1m' });
    expect(error.message).toMatch(/^tollgate: option `max` is 0; /);
  });
});

describe('with global: false, bad defaults', () => {
  // Bad options fail at `register` even when no app-wide limit is built from them.
  it.each(badBehaviour)(
    'still reject at register, before any route uses them: %s',
    async (_label, options, code, option, echoed) => {
      expectNames(await registerError({ global: false, ...options }), code, option, echoed);
    },
  );

  it('refuse a name, which would put every route in one bucket', async () => {
    expectNames(await registerError({ global: false, name: 'all' }), ErrorCodes.INVALID_OPTION, 'name', '"all"');
  });

  it.each(badPolicies.filter(([label]) => label !== 'missing window'))(
    'refuse a bad default policy part at register: %s',
    async (_label, options, code, option, echoed) => {
      expectNames(await registerError({ global: false, ...options }), code, option, echoed);
    },
  );
});

describe('bad route config.rateLimit rejects when the route is declared or at ready', () => {
  it.each([
    ...badPolicies,
    ...badBehaviour.map(([label, options, ...rest]): Case => [label, { max: 5, window: '1m', ...options }, ...rest]),
  ])('%s', async (_label, config, code, option, echoed) => {
    expectNames(await routeError(config, { max: 100, window: '1m' }), code, option, echoed);
  });

  it('a route config without a policy is refused even with global: false', async () => {
    const error = await routeError({ name: 'nopolicy' }, { global: false });
    expectNames(error, ErrorCodes.INVALID_OPTION, 'max', 'undefined');
  });

  it('a route config that is not an object is refused', async () => {
    const app = fastify();
    await app.register(rateLimit, { max: 100, window: '1m' });
    let error: unknown;
    try {
      app.get('/r', { config: { rateLimit: true as never } }, async () => 'ok');
      await app.ready();
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(TollgateError);
    expect((error as TollgateError).code).toBe(ErrorCodes.INVALID_OPTION);
  });

  it('good options pass: the app starts and limits', async () => {
    const app = fastify();
    await app.register(rateLimit, { max: 1, window: '1.5s', burst: 1, headers: 'draft-7', ipv6Subnet: 56 });
    app.get('/r', { config: { rateLimit: { policies: [{ max: 1, window: '1s' }], name: 'ok' } } }, async () => 'ok');
    const base = await start(app);
    expect((await get(`${base}/r`)).status).toBe(200);
    expect((await get(`${base}/r`)).status).toBe(429);
  });
});
