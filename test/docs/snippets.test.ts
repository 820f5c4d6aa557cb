import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseList } from 'structured-headers';
import ts from 'typescript';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { frameworkNames } from '../frameworks.js';
import { type OtlpReceiver, startOtlpReceiver } from '../helpers/otlp-receiver.js';
import { bullet, readmeModules, readmes, runExample, withPlaceholders } from './readme.js';

const root = fileURLToPath(new URL('../..', import.meta.url));
const docsDir = join(root, 'docs');

/** Fence languages allowed in the guide. JavaScript or TypeScript goes in `ts` blocks, which are type-checked. */
const LANGUAGES = new Set(['ts', 'sh', 'yaml', 'http', 'text', 'json', 'promql']);
/**
 * `ts unchecked` marks code written for another library (the "before" of a migration): it cannot
 * compile here, so it is the one kind of code block not type-checked, and only migrating.md has it.
 */
const UNCHECKED_ALLOWED_IN = new Set(['migrating.md']);
/**
 * `ts run` marks a snippet that is also run, here, as a module of its own (against the sources,
 * as the type-check is): it shows a behaviour and asserts it (node:assert), and must end by
 * itself, its servers closed.
 */
const RUN_TIMEOUT_MS = 30_000;

interface Snippet {
  doc: string;
  line: number;
  lang: string;
  unchecked: boolean;
  run: boolean;
  code: string;
}

function snippets(): Snippet[] {
  const out: Snippet[] = [];
  for (const doc of readdirSync(docsDir).filter((f) => f.endsWith('.md'))) {
    const lines = readFileSync(join(docsDir, doc), 'utf8').split('\n');
    for (let i = 0; i < lines.length; i++) {
      const open = /^```(\S*)(?: (unchecked|run))?\s*$/.exec(lines[i] as string);
      if (!open) continue;
      const start = i;
      const body: string[] = [];
      for (i++; i < lines.length && lines[i] !== '```'; i++) body.push(lines[i] as string);
      out.push({
        doc,
        line: start + 1,
        lang: open[1] ?? '',
        unchecked: open[2] === 'unchecked',
        run: open[2] === 'run',
        code: body.join('\n'),
      });
    }
  }
  return out;
}

const all = snippets();
const tsSnippets = all.filter((s) => s.lang === 'ts' && !s.unchecked);
const runSnippets = tsSnippets.filter((s) => s.run);

/** A module that imports NestJS: type-checked with Nest's decorator settings. */
const NEST_CODE = /from '@nestjs\//;

/** Code to type-check as a module of its own, and where it comes from (`file:line`). */
interface CheckedModule {
  label: string;
  line: number;
  code: string;
}

/**
 * Type-checks each module against the sources (`@tollgate/*` resolved to packages/*\/src, as
 * tsconfig.check.json does), so the docs cannot use a name, an option or a signature the
 * packages do not have.
 */
function typeCheck(modules: readonly CheckedModule[], legacyDecorators = false): string[] {
  // NestJS code uses TypeScript's legacy decorators with metadata, as Nest apps are compiled; the
  // rest keeps the standard decorators (docs/telemetry.md has one): two programs.
  if (!legacyDecorators && modules.some((m) => NEST_CODE.test(m.code))) {
    const nest = modules.filter((m) => NEST_CODE.test(m.code));
    return [...typeCheck(modules.filter((m) => !NEST_CODE.test(m.code))), ...typeCheck(nest, true)];
  }
  const config = ts.getParsedCommandLineOfConfigFile(
    join(root, 'tsconfig.check.json'),
    {},
    {
      ...ts.sys,
      onUnRecoverableConfigFileDiagnostic: (d) => {
        throw new Error(ts.flattenDiagnosticMessageText(d.messageText, '\n'));
      },
    },
  );
  if (config === undefined) throw new Error('tsconfig.check.json could not be read');
  const options: ts.CompilerOptions = {
    ...config.options,
    noEmit: true,
    // Snippets show a part of an app: a variable declared for the reader need not be used.
    noUnusedLocals: false,
    noUnusedParameters: false,
    ...(legacyDecorators ? { experimentalDecorators: true, emitDecoratorMetadata: true } : {}),
  };
  const files = new Map<string, CheckedModule>();
  for (const [i, m] of modules.entries()) {
    const base = m.label.replace(/[^A-Za-z0-9]+/g, '-');
    files.set(join(root, 'test', 'docs', '__snippets__', `${base}-${i}.ts`), m);
  }
  const host = ts.createCompilerHost(options);
  const { fileExists, readFile, getSourceFile } = host;
  host.fileExists = (name) => files.has(name) || fileExists.call(host, name);
  host.readFile = (name) => (files.has(name) ? `${files.get(name)?.code}\nexport {};\n` : readFile.call(host, name));
  host.getSourceFile = (name, language, onError, create) => {
    const m = files.get(name);
    if (m === undefined) return getSourceFile.call(host, name, language, onError, create);
    return ts.createSourceFile(name, `${m.code}\nexport {};\n`, language, true);
  };
  const program = ts.createProgram([...files.keys()], options, host);
  const problems: string[] = [];
  for (const [name, m] of files) {
    const source = program.getSourceFile(name);
    if (source === undefined) throw new Error(`no source for ${name}`);
    for (const d of [...program.getSyntacticDiagnostics(source), ...program.getSemanticDiagnostics(source)]) {
      const { line } = source.getLineAndCharacterOfPosition(d.start ?? 0);
      const text = ts.flattenDiagnosticMessageText(d.messageText, '\n');
      problems.push(`${m.label}:${m.line + line}: ${text}`);
    }
  }
  return problems;
}

describe('the code in docs/', () => {
  it('has snippets to check', () => {
    expect(tsSnippets.length).toBeGreaterThan(20);
  });

  it('writes JavaScript and TypeScript as `ts` blocks (so they are type-checked), nothing in other languages', () => {
    const others = all.filter((s) => !LANGUAGES.has(s.lang)).map((s) => `docs/${s.doc}:${s.line} \`\`\`${s.lang}`);
    expect(others).toEqual([]);
  });

  it('leaves code unchecked only for other libraries, in migrating.md', () => {
    const unchecked = all.filter((s) => s.unchecked);
    expect(unchecked.filter((s) => !UNCHECKED_ALLOWED_IN.has(s.doc) || !/^\/\/ before: /.test(s.code))).toEqual([]);
  });

  it('type-checks every ts snippet against the packages’ sources', () => {
    expect(typeCheck(tsSnippets.map((sn) => ({ label: `docs/${sn.doc}`, line: sn.line + 1, code: sn.code })))).toEqual(
      [],
    );
  });
});

describe('the runnable snippets in docs/ (`ts run` blocks)', () => {
  // Under the repository (so Vitest resolves @tollgate/* to the sources), in the ignored .tmp/.
  const dir = join(root, '.tmp', 'doc-snippets');

  it('exist', () => {
    expect(runSnippets.length).toBeGreaterThan(0);
  });

  it.each(runSnippets.map((s) => [`docs/${s.doc}:${s.line}`, s] as const))(
    '%s runs to its end, its assertions holding',
    async (label, snippet) => {
      mkdirSync(dir, { recursive: true });
      const file = join(dir, `${label.replace(/[^A-Za-z0-9]+/g, '-')}.ts`);
      writeFileSync(file, `${snippet.code}\nexport {};\n`);
      try {
        await import(/* @vite-ignore */ file);
      } finally {
        rmSync(file, { force: true });
      }
    },
    RUN_TIMEOUT_MS,
  );
});

describe('the code in the READMEs (the root one and each package’s)', () => {
  const modules = readmes().flatMap(readmeModules);

  it('has examples to check in every README that shows code', () => {
    const withCode = new Set(modules.map((m) => m.readme));
    for (const readme of ['README.md', ...ADAPTERS.map((a) => `packages/${a}/README.md`)]) {
      expect(withCode.has(readme)).toBe(true);
    }
  });

  it('type-checks every js and ts example against the packages’ sources', () => {
    // A placeholder stands for each name an example uses without declaring (the reader's `app`,
    // a `login` handler), typed as that framework's, so the calls made on it are still checked.
    const checked = modules.map((m) => ({ label: m.readme, line: m.line - 1, code: withPlaceholders(m) }));
    expect(typeCheck(checked)).toEqual([]);
  });
});

/** Every framework in frameworks.json: each adapter's README is checked. */
const ADAPTERS = frameworkNames;

/** The policy items of a draft-11 `RateLimit-Policy` field: name, quota, window in seconds. */
function policyItems(field: string | null): Array<{ name: unknown; q: unknown; w: unknown }> {
  return parseList(field ?? '').map(([name, params]) => ({ name, q: params.get('q'), w: params.get('w') }));
}

async function send(url: string, method = 'GET'): Promise<{ status: number; headers: Headers; text: string }> {
  const res = await fetch(url, { method, signal: AbortSignal.timeout(10_000) });
  return { status: res.status, headers: res.headers, text: await res.text() };
}

/**
 * Each adapter README's example app, run as written (on a free port) against the built packages,
 * must do what the bullets under it say. Only the claims below are checked; a rewording that
 * drops one fails here, so the test and the text move together.
 */
describe.each(ADAPTERS)('packages/%s/README.md: the example app does what its text says', (adapter) => {
  const readme = `packages/${adapter}/README.md`;
  let collector: OtlpReceiver;
  beforeAll(async () => {
    collector = await startOtlpReceiver();
  });
  afterAll(() => collector.close());

  it('Limits: every request is limited per client IP, and /login gets a limit of its own on top', async () => {
    const limits = bullet(readme, 'Limits');
    const everyRequest = /every request is limited per client IP/.test(limits);
    const login = /`\/login` also gets (\d+) per (\d+) minutes of its own/.exec(limits);
    expect([everyRequest, login !== null]).toEqual([true, true]);

    const example = await runExample(readme, collector.url);
    try {
      const hello = policyItems((await send(`${example.url}/hello`)).headers.get('ratelimit-policy'));
      const loginReply = await send(`${example.url}/login`, 'POST');
      expect(loginReply.status).toBe(200);
      const onLogin = policyItems(loginReply.headers.get('ratelimit-policy'));
      // "every request": the app-wide limit applies to /hello, and to /login as well.
      expect(hello).toHaveLength(1);
      expect(onLogin).toContainEqual(hello[0]);
      // "also gets N per M minutes of its own": one more policy, that one.
      expect(onLogin).toHaveLength(2);
      expect(onLogin.filter((p) => p.name !== hello[0]?.name)).toEqual([
        expect.objectContaining({ q: Number(login?.[1]), w: Number(login?.[2]) * 60 }),
      ]);
    } finally {
      example.stop();
    }
  });

  it('Metrics: the durations are served at /metrics for Prometheus, by route template', async () => {
    expect(bullet(readme, 'Metrics')).toMatch(/`http_server_request_duration_seconds`.*served by `metricsHandler\(\)`/);
    const example = await runExample(readme, collector.url);
    try {
      await send(`${example.url}/hello`);
      const metrics = await send(`${example.url}/metrics`);
      expect(metrics.status).toBe(200);
      expect(metrics.text).toMatch(/^http_server_request_duration_seconds_count\{[^}]*http_route="\/hello"[^}]*\} 1$/m);
    } finally {
      example.stop();
    }
  });

  it('Traces and shutdown: on SIGTERM the example exits, its spans (named by route) flushed first', async () => {
    expect(bullet(readme, 'Traces')).toContain('SERVER span per request named by the route template (`GET /hello`)');
    const example = await runExample(readme, collector.url);
    await send(`${example.url}/hello`);
    // A flush-only SIGTERM listener kept the app up until SIGKILL; the bound is generous.
    expect(await example.terminate(20_000)).toBe(0);
    expect(collector.spans().map((s) => s.name)).toContain('GET /hello');
  });
});
