import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import { frameworkNames, requireEveryFramework } from '../frameworks.js';

const root = fileURLToPath(new URL('../..', import.meta.url));

/** The README files whose code the snippet test checks: the root one and each package's. */
export function readmes(): string[] {
  const packages = readdirSync(join(root, 'packages')).map((p) => `packages/${p}/README.md`);
  return ['README.md', ...packages.filter((p) => existsSync(join(root, p)))];
}

/** One example in a README: a `js`/`ts` block, or the part of one that starts a new import block. */
export interface ReadmeModule {
  readme: string;
  line: number;
  code: string;
}

/**
 * The examples of a README as modules. A README shows fragments: a block that imports nothing
 * continues the block before it (it uses its names), and a block that starts a second import
 * block after code (the root README's "Express… Koa… Fastify…") holds one example per import block.
 */
export function readmeModules(readme: string): ReadmeModule[] {
  const lines = readFileSync(join(root, readme), 'utf8').split('\n');
  const out: ReadmeModule[] = [];
  for (let i = 0; i < lines.length; i++) {
    if (!/^```(js|ts)\s*$/.test(lines[i] as string)) continue;
    const parts: ReadmeModule[] = [{ readme, line: i + 2, code: '' }];
    let sawCode = false;
    for (i++; i < lines.length && lines[i] !== '```'; i++) {
      const line = lines[i] as string;
      const isImport = /^import\s/.test(line);
      if (isImport && sawCode) {
        parts.push({ readme, line: i + 1, code: '' });
        sawCode = false;
      }
      if (!isImport && line.trim() !== '' && !line.trim().startsWith('//')) sawCode = true;
      const part = parts[parts.length - 1] as ReadmeModule;
      part.code += `${line}\n`;
    }
    const first = parts[0] as ReadmeModule;
    const previous = out[out.length - 1];
    if (parts.length === 1 && !/^import\s/m.test(first.code) && previous !== undefined) previous.code += first.code;
    else out.push(...parts);
  }
  return out;
}

/** A framework from frameworks.json. */
type Framework = string;
const FRAMEWORK_NAMES = frameworkNames.join('|');

function frameworkOf(code: string, readme: string): Framework | undefined {
  const imported = new RegExp(`from '@tollgate/(${FRAMEWORK_NAMES})'`).exec(code)?.[1];
  const byPath = new RegExp(`^packages/(${FRAMEWORK_NAMES})/`).exec(readme)?.[1];
  return imported ?? byPath;
}

/**
 * The names READMEs use without declaring them (the reader's app, a handler, a Redis client),
 * each with the type it has in that framework, so the calls around them are still type-checked.
 */
const PLACEHOLDERS: Record<string, Record<string, [typeImport: string, type: string]>> = {
  express: {
    app: ["import type __Express from 'express';", '__Express.Express'],
    router: ["import type __Express from 'express';", '__Express.Router'],
    login: ["import type __Express from 'express';", '__Express.RequestHandler'],
    health: ["import type __Express from 'express';", '__Express.RequestHandler'],
  },
  koa: {
    app: ["import type __Koa from 'koa';", '__Koa'],
    router: ["import type __Router from '@koa/router';", '__Router'],
    login: ["import type __Koa from 'koa';", '__Koa.Middleware'],
    health: ["import type __Koa from 'koa';", '__Koa.Middleware'],
  },
  fastify: {
    app: ["import type { FastifyInstance as __Fastify } from 'fastify';", '__Fastify'],
    login: ["import type { RouteHandlerMethod as __Handler } from 'fastify';", '__Handler'],
    health: ["import type { RouteHandlerMethod as __Handler } from 'fastify';", '__Handler'],
    resetPassword: ["import type { RouteHandlerMethod as __Handler } from 'fastify';", '__Handler'],
  },
  hono: {
    app: ["import type { Hono as __Hono } from 'hono';", '__Hono'],
    login: ["import type { Handler as __Handler } from 'hono';", '__Handler'],
    health: ["import type { Handler as __Handler } from 'hono';", '__Handler'],
  },
  fetch: {
    login: ["import type { FetchHandler as __Handler } from '@tollgate/fetch';", '__Handler'],
    health: ["import type { FetchHandler as __Handler } from '@tollgate/fetch';", '__Handler'],
  },
  nestjs: {
    app: ["import type { INestApplication as __App } from '@nestjs/common';", '__App'],
  },
  any: {
    redis: ["import type { Redis as __Redis } from 'ioredis';", '__Redis'],
    // The request parameters of an Anthropic call: their type is the SDK's, not tollgate's.
    params: ["import type __Anthropic from '@anthropic-ai/sdk';", '__Anthropic.MessageCreateParamsNonStreaming'],
  },
};

// Every framework in frameworks.json needs its placeholders here.
requireEveryFramework(
  'test/docs/readme.ts',
  Object.keys(PLACEHOLDERS).filter((name) => name !== 'any'),
);

/** `code` after one line declaring each placeholder it uses and does not declare itself. */
export function withPlaceholders(module: ReadmeModule): string {
  const framework = frameworkOf(module.code, module.readme);
  const table = { ...PLACEHOLDERS.any, ...(framework === undefined ? {} : PLACEHOLDERS[framework]) };
  const imports = new Set<string>();
  const declarations: string[] = [];
  for (const [name, [typeImport, type]] of Object.entries(table)) {
    if (!new RegExp(`\\b${name}\\b`).test(module.code)) continue;
    const declared = new RegExp(`\\b(?:const|let|var|function|class)\\s+${name}\\b|import[^;]*\\b${name}\\b[^;]*from`);
    if (declared.test(module.code)) continue;
    imports.add(typeImport);
    declarations.push(`declare const ${name}: ${type};`);
  }
  // The examples read REDIS_URL as set: `new Redis(process.env.REDIS_URL)`.
  const env = 'declare global { namespace NodeJS { interface ProcessEnv { REDIS_URL: string } } }';
  // All on the first line, so a problem's line number is the README's, one line on.
  return `${[...imports, env, ...declarations].join(' ')}\n${module.code}`;
}

/** The bullet `- **<label>**: …` after the README's example, as one line of text. */
export function bullet(readme: string, label: string): string {
  const text = readFileSync(join(root, readme), 'utf8');
  const m = new RegExp(`^- \\*\\*${label}\\*\\*: ([\\s\\S]*?)(?=\\n- \\*\\*|\\n\\n)`, 'm').exec(text);
  if (!m) throw new Error(`${readme} has no "**${label}**" bullet`);
  return (m[1] as string).replace(/\s+/g, ' ');
}

/** The README's example app: the one block that starts a server. */
export function appModule(readme: string): ReadmeModule {
  const found = readmeModules(readme).filter((m) => /\blisten\(/.test(m.code) && /\btelemetry\b/.test(m.code));
  if (found.length !== 1) throw new Error(`${readme}: expected one example app, found ${found.length}`);
  return found[0] as ReadmeModule;
}

/**
 * A Nest example is TypeScript with decorators, as Nest apps are written: compiled as a Nest
 * project compiles it (`experimentalDecorators`, `emitDecoratorMetadata`) before it runs.
 */
function transpileDecorated(code: string): string {
  return ts.transpileModule(code, {
    compilerOptions: {
      target: ts.ScriptTarget.ES2022,
      module: ts.ModuleKind.ESNext,
      experimentalDecorators: true,
      emitDecoratorMetadata: true,
    },
  }).outputText;
}

/** A handler for the names the example uses without declaring them: answers 200 "ok". */
const HANDLERS: Record<Framework, string> = {
  express: 'const login = (_req, res) => { res.send("ok"); };',
  koa: 'const login = (ctx) => { ctx.body = "ok"; };',
  fastify: 'const login = async () => "ok";',
  hono: 'const login = (c) => c.text("ok");',
  fetch: 'const login = () => new Response("ok");',
  // The Nest example declares its login handler as a method of its controller.
  nestjs: '',
};

/**
 * Forces every server the example starts onto a free port (the README says 3000) and prints
 * `LISTENING <port>` once it listens, so the example runs exactly as written otherwise.
 */
const PRELOAD = `import net from 'node:net';
const listen = net.Server.prototype.listen;
net.Server.prototype.listen = function (...args) {
  if (typeof args[0] === 'number') args[0] = 0;
  else if (args[0] !== null && typeof args[0] === 'object' && 'port' in args[0]) args[0] = { ...args[0], port: 0 };
  this.once('listening', () => process.stdout.write('LISTENING ' + this.address().port + '\\n'));
  return listen.apply(this, args);
};
`;

export interface RunningExample {
  url: string;
  /** Kills the process outright. */
  stop(): void;
  /** Sends SIGTERM; resolves with the exit code once the process ends, or null if it is still up after `waitMs`. */
  terminate(waitMs: number): Promise<number | null>;
}

/**
 * Runs a package README's example app as written, in a process of its own, against the built
 * packages (run `npm run build` first), and resolves once it listens. Its spans go to
 * `collector`, an OTLP/HTTP base URL.
 */
export async function runExample(readme: string, collector: string): Promise<RunningExample> {
  const module = appModule(readme);
  const framework = frameworkOf(module.code, readme) as Framework;
  const dir = join(root, '.tmp', 'readme-apps');
  mkdirSync(dir, { recursive: true });
  const preload = join(dir, 'listen-any-port.mjs');
  writeFileSync(preload, PRELOAD);
  const file = join(dir, `${framework}.mjs`);
  const declares = /\b(?:const|function)\s+login\b/.test(module.code);
  // `login` is used before the line that declares it: hoist the handler above the example.
  const code = framework === 'nestjs' ? transpileDecorated(module.code) : module.code;
  writeFileSync(file, `${declares ? '' : `${HANDLERS[framework]}\n`}${code}`);
  const child: ChildProcess = spawn(process.execPath, ['--import', preload, file], {
    cwd: root,
    stdio: ['ignore', 'pipe', 'pipe'],
    // The README's collector does not exist here: spans go to `collector` instead (the
    // environment wins over setupTelemetry's options, as it does for operators).
    env: { ...process.env, OTEL_EXPORTER_OTLP_ENDPOINT: collector },
  });
  const stop = () => {
    if (child.exitCode === null) child.kill('SIGKILL');
  };
  let output = '';
  const port = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${readme}'s example did not listen: ${output}`)), 20_000);
    const onData = (chunk: Buffer) => {
      output += chunk.toString();
      const m = /LISTENING (\d+)/.exec(output);
      if (m) {
        clearTimeout(timer);
        resolve(Number(m[1]));
      }
    };
    child.stdout?.on('data', onData);
    child.stderr?.on('data', (chunk: Buffer) => {
      output += chunk.toString();
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`${readme}'s example exited (${code}): ${output}`));
    });
  }).catch((error: unknown) => {
    stop();
    throw error;
  });
  const terminate = async (waitMs: number): Promise<number | null> => {
    const exited = new Promise<number | null>((resolve) => {
      if (child.exitCode !== null) resolve(child.exitCode);
      else child.once('exit', (code) => resolve(code));
    });
    child.kill('SIGTERM');
    const code = await Promise.race([exited, new Promise<'up'>((r) => setTimeout(() => r('up'), waitMs))]);
    stop();
    return code === 'up' ? null : code;
  };
  return { url: `http://127.0.0.1:${port}`, stop, terminate };
}
