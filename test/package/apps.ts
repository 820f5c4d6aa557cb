import { forEachFramework, frameworkNames, frameworks } from '../frameworks.js';

/**
 * The throwaway apps of the package matrix: the same small app per framework, written as a
 * user would write it in each module style. Each serves `/` behind `rateLimit({ max: 1 })` and
 * `/metrics`, requests `/` twice and `/metrics` once, and prints one JSON line of what it saw.
 */

/** A framework from frameworks.json. */
export type Framework = string;
/** esm: .mjs; cjs: .cjs with require(); mts/cts: TypeScript under node16; ts: TypeScript under bundler. */
export type Style = 'esm' | 'cjs' | 'mts' | 'cts' | 'ts';

export const FRAMEWORKS: readonly Framework[] = frameworkNames;

function imports(framework: Framework, style: Style): string {
  const pkg = frameworks.find((f) => f.name === framework)?.package;
  const { defaultExport: main, from = framework, more = [], imports: own } = app(framework);
  if (own !== undefined) return own(style).join('\n');
  if (style === 'cjs') {
    return [
      `const ${main} = require('${from}');`,
      ...more.map(([binding, module]) => `const ${binding} = require('${module}');`),
      `const { metricsHandler, rateLimit, telemetry } = require('${pkg}');`,
      `const { createRequire } = require('node:module');`,
      `const { register } = require('@tollgate/core');`,
      `const { setupTelemetry } = require('@tollgate/otel');`,
      `const { ClaudeRateLimiter } = require('@tollgate/llm');`,
    ].join('\n');
  }
  const lines = [
    `import ${main} from '${from}';`,
    ...more.map(([binding, module]) => `import ${binding} from '${module}';`),
    `import { metricsHandler, rateLimit, telemetry } from '${pkg}';`,
    `import { createRequire } from 'node:module';`,
    `import { register } from '@tollgate/core';`,
    `import { setupTelemetry } from '@tollgate/otel';`,
    `import { ClaudeRateLimiter } from '@tollgate/llm';`,
  ];
  if (style !== 'esm') lines.push(`import type { AddressInfo } from 'node:net';`);
  return lines.join('\n');
}

/** Per framework: the name a user imports it by, and the body of `start()` (`port` reads a listening address). */
interface AppOf {
  /**
   * The app's whole import block, in the style's syntax, for a framework whose app is not one
   * default export beside `rateLimit`, `telemetry` and `metricsHandler` (NestJS: a module and a guard).
   */
  imports?: (style: Style) => string[];
  /** What the app imports from the framework's package: its default export, or `{ names }`. */
  defaultExport: string;
  /** Where `defaultExport` comes from, if not the package named like the framework (`fetch` is no package). */
  from?: string;
  /** More `[binding, module]` imports the app needs, e.g. the server a Fetch API app runs on. */
  more?: ReadonlyArray<readonly [string, string]>;
  start(port: (expr: string) => string): string;
}

/** Every framework in frameworks.json: a framework in the list needs its app here. */
const APPS = Object.fromEntries(
  forEachFramework<AppOf>('test/package/apps.ts', {
    express: {
      defaultExport: 'express',
      start: (port) => `
  const app = express();
  app.use(telemetry());
  app.get('/metrics', metricsHandler());
  app.use(rateLimit({ max: 1, window: '1m' }));
  app.get('/', (_req, res) => {
    res.send('ok');
  });
  const server = app.listen(0, '127.0.0.1');
  await new Promise((resolve) => server.once('listening', resolve));
  return { port: ${port('server.address()')}, close: () => server.close() };`,
    },
    koa: {
      defaultExport: 'Koa',
      start: (port) => `
  const app = new Koa();
  const metrics = metricsHandler();
  app.use(telemetry());
  app.use((ctx, next) => (ctx.path === '/metrics' ? metrics(ctx, next) : next()));
  app.use(rateLimit({ max: 1, window: '1m' }));
  app.use((ctx) => {
    ctx.body = 'ok';
  });
  const server = app.listen(0, '127.0.0.1');
  await new Promise((resolve) => server.once('listening', resolve));
  return { port: ${port('server.address()')}, close: () => server.close() };`,
    },
    fastify: {
      defaultExport: 'Fastify',
      start: (port) => `
  const app = Fastify();
  await app.register(telemetry);
  await app.register(rateLimit, { max: 1, window: '1m' });
  app.get('/metrics', { config: { rateLimit: false } }, metricsHandler());
  app.get('/', async () => 'ok');
  await app.listen({ port: 0, host: '127.0.0.1' });
  return { port: ${port('app.server.address()')}, close: () => app.close() };`,
    },
    hono: {
      defaultExport: '{ Hono }',
      more: [
        ['{ serve }', '@hono/node-server'],
        ['{ once }', 'node:events'],
      ],
      start: (port) => `
  const app = new Hono();
  app.use(telemetry());
  app.get('/metrics', metricsHandler());
  app.use(rateLimit({ max: 1, window: '1m' }));
  app.get('/', (c) => c.text('ok'));
  const server = serve({ fetch: app.fetch, port: 0, hostname: '127.0.0.1' });
  await once(server, 'listening');
  return { port: ${port('server.address()')}, close: () => server.close() };`,
    },
    fetch: {
      defaultExport: '{ serve }',
      from: '@hono/node-server',
      more: [['{ once }', 'node:events']],
      start: (port) => `
  const hello = telemetry({ route: '/' })(rateLimit({ max: 1, window: '1m' })(() => new Response('ok')));
  const metrics = metricsHandler();
  const server = serve({
    fetch: (request, env) => (new URL(request.url).pathname === '/metrics' ? metrics(request) : hello(request, env)),
    port: 0,
    hostname: '127.0.0.1',
  });
  await once(server, 'listening');
  return { port: ${port('server.address()')}, close: () => server.close() };`,
    },
    nestjs: {
      defaultExport: 'NestFactory',
      imports: nestImports,
      // No decorator syntax: the apps are plain JavaScript too, and the TypeScript ones keep the
      // matrix's compiler options. Reflect.decorate is what `@Get()` compiles to.
      start: (port) => {
        const typed = port('x') !== 'x.port';
        const any = typed ? ': never' : '';
        return `
  class AppController {
    metrics = metricsHandler();
    hello() {
      return 'ok';
    }
    scrape(req${any}, res${any}) {
      return this.metrics(req, res);
    }
  }
  const method = (name${typed ? ': string' : ''}) => Object.getOwnPropertyDescriptor(AppController.prototype, name);
  Reflect.decorate([Get()], AppController.prototype, 'hello', method('hello'));
  Reflect.decorate([Get('metrics'), SkipRateLimit()], AppController.prototype, 'scrape', method('scrape'));
  Req()(AppController.prototype, 'scrape', 0);
  Res()(AppController.prototype, 'scrape', 1);
  Reflect.decorate([Controller()], AppController);
  class AppModule {}
  Reflect.decorate(
    [
      Module({
        imports: [TollgateModule.forRoot({ max: 1, window: '1m', telemetry: true })],
        controllers: [AppController],
        providers: [{ provide: APP_GUARD, useClass: RateLimitGuard }],
      }),
    ],
    AppModule,
  );
  const app = await NestFactory.create(AppModule, { logger: false });
  await app.listen(0, '127.0.0.1');
  return { port: ${port('app.getHttpServer().address()')}, close: () => app.close() };`;
      },
    },
  }).map((a) => [a.name, a]),
);

/** NestJS: reflect-metadata first, as Nest apps start; the module, the guard and the decorators. */
function nestImports(style: Style): string[] {
  const modules: Array<[string, string]> = [
    ['{ Controller, Get, Module, Req, Res }', '@nestjs/common'],
    ['{ APP_GUARD, NestFactory }', '@nestjs/core'],
    ['{ metricsHandler, RateLimitGuard, SkipRateLimit, TollgateModule }', '@tollgate/nestjs'],
    ['{ createRequire }', 'node:module'],
    ['{ register }', '@tollgate/core'],
    ['{ setupTelemetry }', '@tollgate/otel'],
    ['{ ClaudeRateLimiter }', '@tollgate/llm'],
  ];
  if (style === 'cjs') {
    return ["require('reflect-metadata');", ...modules.map(([names, from]) => `const ${names} = require('${from}');`)];
  }
  const lines = ["import 'reflect-metadata';", ...modules.map(([names, from]) => `import ${names} from '${from}';`)];
  if (style !== 'esm') lines.push(`import type { AddressInfo } from 'node:net';`);
  return lines;
}

function app(framework: Framework): AppOf {
  return APPS[framework] as AppOf;
}

function server(framework: Framework, typed: boolean): string {
  return app(framework).start((expr: string) => (typed ? `(${expr} as AddressInfo).port` : `${expr}.port`));
}

/** The source of one app. */
export function appSource(framework: Framework, style: Style): string {
  const typed = style === 'mts' || style === 'cts' || style === 'ts';
  const meta = style === 'cjs' || style === 'cts' ? '__filename' : 'import.meta.url';
  return `${imports(framework, style)}

async function start()${typed ? ': Promise<{ port: number; close: () => unknown }>' : ''} {${server(framework, typed)}
}

/** What a user's process holds after importing the package: none of these should load. */
function heavyModulesLoaded()${typed ? ': string[]' : ''} {
  const loaded = Object.keys(createRequire(${meta}).cache);
  const heavy = ['/@opentelemetry/sdk-trace-node/', '/@opentelemetry/exporter-trace-otlp-proto/', '/ioredis/'];
  return heavy.filter((part) => loaded.some((path) => path.includes(part)));
}

async function main() {
  const { port, close } = await start();
  const url = 'http://127.0.0.1:' + port;
  const first = await fetch(url + '/');
  const second = await fetch(url + '/');
  // Its metric families appear in tollgate's registry (core's), from another package, once it exists.
  const claude = new ClaudeRateLimiter();
  const metrics = await fetch(url + '/metrics');
  const metricsText = await metrics.text();
  await close();
  console.log(
    JSON.stringify({
      statuses: [first.status, second.status],
      retryAfter: second.headers.get('retry-after'),
      contentType: second.headers.get('content-type'),
      rateLimit: second.headers.get('ratelimit'),
      metricsStatus: metrics.status,
      durationMetric: metricsText.includes('http_server_request_duration_seconds'),
      defaultMetrics: register.getMetricsAsArray().filter((m) => /^(process|nodejs)_/.test(m.name)).length,
      heavy: heavyModulesLoaded(),
      // Resolved in this module style; not called, so the SDK stays unloaded.
      setupTelemetry: typeof setupTelemetry,
      claude: typeof claude.run,
      claudeMetric: metricsText.includes('tollgate_claude_calls_total'),
    }),
  );
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
`;
}
