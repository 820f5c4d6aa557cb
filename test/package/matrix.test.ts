import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { checkPackage, createPackageFromTarballData } from '@arethetypeswrong/core';
import { publint } from 'publint';
import { formatMessage } from 'publint/utils';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureBuilt } from '../cli/run-cli.js';
import { appSource, FRAMEWORKS, type Framework, type Style } from './apps.js';

/**
 * The packages as a user gets them: `npm pack` each one, install the tarballs into throwaway
 * apps outside the repo, and run those apps in every module style (ESM, CommonJS, TypeScript
 * under node16 and bundler resolution) for every framework. Also publint and
 * @arethetypeswrong on each tarball. Run it with `npm run test:package` (it builds first).
 */

const run = promisify(execFile);
const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const PACKAGES = ['core', 'otel', 'llm', 'express', 'koa', 'fastify', 'hono', 'fetch', 'nestjs', 'cli'] as const;
const TSC = join(ROOT, 'node_modules/typescript/bin/tsc');

/** The framework versions the repo itself tests against. */
const devDeps = (
  JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { devDependencies: Record<string, string> }
).devDependencies;
const spec = (name: string) => `${name}@${devDeps[name]}`;

/** Child npm processes must not inherit the npm settings of the `npm run` that started vitest. */
const cleanEnv = Object.fromEntries(Object.entries(process.env).filter(([key]) => !/^npm_/i.test(key)));

function npm(args: string[], cwd: string) {
  return run('npm', [...args, '--no-audit', '--no-fund', '--loglevel=error', '--prefer-offline'], {
    cwd,
    env: cleanEnv,
    maxBuffer: 16 * 1024 * 1024,
  });
}

const TS_CONFIG = {
  // Declarations are checked here (skipLibCheck: false), ours included: the .mts apps read
  // index.d.ts and the .cts apps index.d.cts, so both are checked as a strict user project would.
  node16: { module: 'node16', moduleResolution: 'node16', skipLibCheck: false },
  // The same index.d.ts again, so only the apps are checked against it here: half the CPU.
  bundler: { module: 'esnext', moduleResolution: 'bundler', skipLibCheck: true },
};

function writeApp(dir: string, type: 'module' | 'commonjs', files: Record<string, string>, tsconfig?: object) {
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'package.json'), JSON.stringify({ type }));
  for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text);
  if (tsconfig !== undefined) {
    const compilerOptions = {
      target: 'es2022',
      strict: true,
      esModuleInterop: true,
      ...tsconfig,
      types: ['node'],
      outDir: 'out',
      rootDir: '.',
    };
    writeFileSync(join(dir, 'tsconfig.json'), JSON.stringify({ compilerOptions, include: ['*.ts', '*.mts', '*.cts'] }));
  }
}

const work = mkdtempSync(join(tmpdir(), 'tollgate-matrix-'));
const tarballs: Record<string, string> = {};
const packedFiles: Record<string, string[]> = {};
const timings: Record<string, number> = {};
const started = performance.now();

async function timed<T>(label: string, step: Promise<T>): Promise<T> {
  const t = performance.now();
  const out = await step;
  timings[label] = Math.round(performance.now() - t);
  return out;
}

beforeAll(async () => {
  // `npm run build` builds the libraries; the CLI builds here if packages/cli is not a workspace yet.
  ensureBuilt();
  const packDir = join(work, 'tarballs');
  mkdirSync(packDir);
  await timed(
    'pack',
    Promise.all(
      PACKAGES.map(async (pkg) => {
        const { stdout } = await npm(['pack', '--json', '--pack-destination', packDir], join(ROOT, 'packages', pkg));
        const [info] = JSON.parse(stdout) as [{ filename: string; files: Array<{ path: string }> }];
        tarballs[pkg] = join(packDir, info.filename);
        packedFiles[pkg] = info.files.map((f) => f.path).sort();
      }),
    ),
  );

  // One install for every library app (no ioredis in it: the memory store needs nothing), one for the CLI.
  const apps = join(work, 'apps');
  const cli = join(work, 'cli');
  for (const dir of [apps, cli]) {
    mkdirSync(dir);
    writeFileSync(join(dir, 'package.json'), JSON.stringify({ name: 'matrix-app', private: true }));
  }
  const libraries = (['core', 'otel', 'llm', 'express', 'koa', 'fastify', 'hono', 'fetch', 'nestjs'] as const).map(
    (p) => tarballs[p] as string,
  );
  const frameworks = [
    'express',
    'koa',
    'fastify',
    'hono',
    '@hono/node-server',
    '@types/express',
    '@types/koa',
    '@types/node',
  ].map(spec);
  // NestJS on its Express platform, with what every Nest app installs beside it.
  const nest = ['@nestjs/common', '@nestjs/core', '@nestjs/platform-express', 'reflect-metadata', 'rxjs'].map(spec);
  // The apps use telemetry() and metricsHandler(): what the docs say to install for them.
  const peers = ['@opentelemetry/api', 'prom-client'].map(spec);
  mkdirSync(join(work, 'lean'));
  writeFileSync(join(work, 'lean', 'package.json'), JSON.stringify({ name: 'matrix-lean', private: true }));
  await timed(
    'install',
    Promise.all([
      npm(['install', ...libraries, ...frameworks, ...nest, ...peers], apps),
      npm(['install', tarballs.core as string, tarballs.llm as string, tarballs.cli as string], cli),
      // A rate limiter alone: no optional peer installed.
      npm(['install', tarballs.core as string, tarballs.express as string, spec('express')], join(work, 'lean')),
    ]),
  );

  const sources = (style: Style, ext: string) =>
    Object.fromEntries(FRAMEWORKS.map((f) => [`${f}.${ext}`, appSource(f, style)]));
  writeApp(join(apps, 'esm'), 'module', sources('esm', 'mjs'));
  writeApp(join(apps, 'cjs'), 'commonjs', sources('cjs', 'cjs'));
  // Two programs: one that loads both index.d.ts and index.d.cts of an adapter would see its
  // request-type augmentation twice, over two copies of core's types (TS2717): a mixed
  // .mts/.cts program is the dual-package hazard, documented in docs/in-the-handler.md.
  writeApp(join(apps, 'node16-mts'), 'module', sources('mts', 'mts'), TS_CONFIG.node16);
  writeApp(join(apps, 'node16-cts'), 'module', sources('cts', 'cts'), TS_CONFIG.node16);
  writeApp(join(apps, 'bundler'), 'module', sources('ts', 'ts'), TS_CONFIG.bundler);
}, 300_000);

afterAll(() => {
  console.log(
    `package matrix: ${Math.round(performance.now() - started)} ms in all; ${Object.entries(timings)
      .map(([k, v]) => `${k} ${v} ms`)
      .join(', ')}`,
  );
  rmSync(work, { recursive: true, force: true });
});

const APPS: Array<{ style: Style; dir: string; file: (f: Framework) => string; tsc?: 'node16' | 'bundler' }> = [
  { style: 'esm', dir: 'esm', file: (f) => `${f}.mjs` },
  { style: 'cjs', dir: 'cjs', file: (f) => `${f}.cjs` },
  { style: 'mts', dir: 'node16-mts', file: (f) => `out/${f}.mjs`, tsc: 'node16' },
  { style: 'cts', dir: 'node16-cts', file: (f) => `out/${f}.cjs`, tsc: 'node16' },
  { style: 'ts', dir: 'bundler', file: (f) => `out/${f}.js`, tsc: 'bundler' },
];

/**
 * One type-check (and emit) per TypeScript project, shared by its apps. Errors inside other
 * packages' declarations (third-party typing bugs, e.g. in @types/koa) are not ours to fix and
 * are only logged; errors in the apps or in tollgate's own declarations fail.
 */
const compiled = new Map<string, Promise<void>>();
function compile(dir: string) {
  let done = compiled.get(dir);
  if (done === undefined) {
    const cwd = join(work, 'apps', dir);
    done = timed(
      `tsc ${dir}`,
      run(process.execPath, [TSC, '-p', cwd, '--pretty', 'false'], { cwd }).then(
        () => undefined,
        (error: { stdout: string; stderr: string }) => {
          const diagnostics = `${error.stdout}${error.stderr}`.split('\n').filter((l) => /error TS\d+/.test(l));
          const thirdParty = (l: string) => /node_modules\//.test(l) && !/node_modules\/@tollgate\//.test(l);
          const ours = diagnostics.filter((l) => !thirdParty(l));
          if (diagnostics.length > ours.length) {
            console.log(
              `tsc (${dir}): ignored in third-party declarations:\n${diagnostics.filter(thirdParty).join('\n')}`,
            );
          }
          if (ours.length > 0 || diagnostics.length === 0) {
            throw new Error(`tsc (${dir}) failed:\n${error.stdout}${error.stderr}`);
          }
        },
      ),
    );
    compiled.set(dir, done);
  }
  return done;
}

describe('the packed packages in throwaway apps', () => {
  for (const { style, dir, file, tsc } of APPS) {
    for (const framework of FRAMEWORKS) {
      it.concurrent(`${framework}, ${style}${tsc ? ` (tsc, moduleResolution ${tsc})` : ''}: imports, serves, 429s`, async () => {
        if (tsc !== undefined) await compile(dir);
        const cwd = join(work, 'apps', dir);
        const { stdout } = await run(process.execPath, [file(framework)], { cwd, timeout: 30_000 });
        const seen = JSON.parse(stdout.trim().split('\n').at(-1) as string);
        expect(seen).toEqual({
          statuses: [200, 429],
          retryAfter: expect.stringMatching(/^[1-9]\d*$/),
          contentType: expect.stringMatching(/^application\/problem\+json/),
          rateLimit: expect.stringMatching(/r=0/),
          metricsStatus: 200,
          durationMetric: true,
          defaultMetrics: 0,
          heavy: [],
          setupTelemetry: 'function',
          claude: 'function',
          claudeMetric: true,
        });
      });
    }
  }
});

describe('a rate limiter alone, installed without the optional peers', () => {
  const APP = `
    const express = require('express');
    const { metricsHandler, rateLimit, telemetry } = require('@tollgate/express');
    const failure = (fn) => { try { fn(); } catch (e) { return { code: e.code, message: e.message }; } };
    const installed = (name) => { try { require.resolve(name); return true; } catch { return false; } };
    (async () => {
      const app = express();
      app.use(rateLimit({ max: 1, window: '1m' }));
      app.get('/', (_req, res) => res.send('ok'));
      const server = app.listen(0, '127.0.0.1');
      await new Promise((resolve) => server.once('listening', resolve));
      const url = 'http://127.0.0.1:' + server.address().port + '/';
      const statuses = [(await fetch(url)).status, (await fetch(url)).status];
      server.close();
      console.log(JSON.stringify({
        statuses,
        otelInstalled: installed('@opentelemetry/api'),
        promInstalled: installed('prom-client'),
        otelLoaded: Object.keys(require.cache).filter((p) => p.includes('/@opentelemetry/')).length,
        telemetry: failure(() => telemetry()) ?? null,
        metricsHandler: failure(() => metricsHandler()) ?? null,
      }));
    })();`;

  it('limits, and telemetry() (and metricsHandler() without prom-client) throws the coded error naming the package', async () => {
    const { stdout } = await run(process.execPath, ['-e', APP], { cwd: join(work, 'lean'), timeout: 30_000 });
    const seen = JSON.parse(stdout.trim().split('\n').at(-1) as string);
    const missing = (pkg: string) => ({
      code: 'TOLLGATE_PEER_DEPENDENCY_MISSING',
      message: expect.stringContaining(`npm install ${pkg}`),
    });
    // prom-client 15 depends on @opentelemetry/api itself, so the API is there exactly when
    // prom-client is: while @tollgate/core still depends on prom-client, both are installed.
    expect(seen).toEqual({
      statuses: [200, 429],
      otelInstalled: seen.promInstalled,
      promInstalled: seen.promInstalled,
      otelLoaded: seen.promInstalled ? expect.any(Number) : 0,
      telemetry: seen.otelInstalled ? null : missing('@opentelemetry/api'),
      metricsHandler: seen.promInstalled ? null : missing('prom-client'),
    });
  });
});

describe('the packed CLI', () => {
  it('`npx tollgate` runs the installed bin', async () => {
    const cwd = join(work, 'cli');
    const version = await run('npx', ['--no-install', 'tollgate', '--version'], { cwd, env: cleanEnv });
    expect(version.stdout.trim()).toBe('0.1.0');
    const error = await run('npx', ['--no-install', 'tollgate', 'usage', '--redis-url', 'redis://127.0.0.1:1'], {
      cwd,
      env: cleanEnv,
    }).then(
      () => undefined,
      (e: { code: number; stderr: string }) => e,
    );
    expect(error?.code).toBe(3);
    expect(error?.stderr).toMatch(/^tollgate: cannot reach Redis at redis:\/\/127\.0\.0\.1:1: connection refused\n$/);
  });
});

describe('publint and @arethetypeswrong on each tarball', () => {
  for (const pkg of PACKAGES) {
    it.concurrent(`${pkg}: no problems`, async () => {
      const data = readFileSync(tarballs[pkg] as string);
      const tarball = data.buffer.slice(data.byteOffset, data.byteOffset + data.byteLength) as ArrayBuffer;
      const lint = await publint({ pack: { tarball }, level: 'suggestion', strict: true });
      expect(lint.messages.map((m) => `${m.type}: ${formatMessage(m, lint.pkg)}`)).toEqual([]);

      const types = await checkPackage(createPackageFromTarballData(new Uint8Array(data)));
      if (pkg === 'cli') {
        // A command, not a library: nothing to import, no types.
        expect(types.types).toBe(false);
      } else {
        expect(types.types).not.toBe(false);
        expect('problems' in types ? types.problems : []).toEqual([]);
      }
    });
  }

  it('tarballs hold dist, README and LICENSE only (and the CLI its bin stub)', () => {
    for (const pkg of PACKAGES) {
      const files = packedFiles[pkg] as string[];
      expect(
        files.filter(
          (f) => !/^(dist\/[^/]+\.(c?js|d\.c?ts)|bin\/tollgate\.js|package\.json|README\.md|LICENSE)$/.test(f),
        ),
        pkg,
      ).toEqual([]);
      expect(files, pkg).toEqual(expect.arrayContaining(['LICENSE', 'README.md', 'package.json']));
    }
  });
});
