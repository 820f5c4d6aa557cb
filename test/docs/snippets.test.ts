import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('../..', import.meta.url));
const docsDir = join(root, 'docs');

/** Fence languages allowed in the guide. JavaScript or TypeScript goes in `ts` blocks, which are type-checked. */
const LANGUAGES = new Set(['ts', 'sh', 'yaml', 'http', 'text', 'json', 'promql']);
/**
 * `ts unchecked` marks code written for another library (the "before" of a migration): it cannot
 * compile here, so it is the one kind of code block not type-checked, and only migrating.md has it.
 */
const UNCHECKED_ALLOWED_IN = new Set(['migrating.md']);

interface Snippet {
  doc: string;
  line: number;
  lang: string;
  unchecked: boolean;
  code: string;
}

function snippets(): Snippet[] {
  const out: Snippet[] = [];
  for (const doc of readdirSync(docsDir).filter((f) => f.endsWith('.md'))) {
    const lines = readFileSync(join(docsDir, doc), 'utf8').split('\n');
    for (let i = 0; i < lines.length; i++) {
      const open = /^```(\S*)(?: (unchecked))?\s*$/.exec(lines[i] as string);
      if (!open) continue;
      const start = i;
      const body: string[] = [];
      for (i++; i < lines.length && lines[i] !== '```'; i++) body.push(lines[i] as string);
      out.push({ doc, line: start + 1, lang: open[1] ?? '', unchecked: open[2] !== undefined, code: body.join('\n') });
    }
  }
  return out;
}

const all = snippets();
const tsSnippets = all.filter((s) => s.lang === 'ts' && !s.unchecked);

/**
 * Type-checks every `ts` snippet of docs/*.md as a module of its own against the sources
 * (`@tollgate/*` resolved to packages/*\/src, as tsconfig.check.json does), so the guide cannot
 * use a name, an option or a signature the packages do not have.
 */
function typeCheck(): string[] {
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
  };
  const files = new Map<string, Snippet>();
  for (const [i, s] of tsSnippets.entries()) {
    files.set(join(root, 'test', 'docs', '__snippets__', `${s.doc.replace(/\.md$/, '')}-${i}.ts`), s);
  }
  const host = ts.createCompilerHost(options);
  const { fileExists, readFile, getSourceFile } = host;
  host.fileExists = (name) => files.has(name) || fileExists.call(host, name);
  host.readFile = (name) => (files.has(name) ? `${files.get(name)?.code}\nexport {};\n` : readFile.call(host, name));
  host.getSourceFile = (name, language, onError, create) => {
    const snippet = files.get(name);
    if (snippet === undefined) return getSourceFile.call(host, name, language, onError, create);
    return ts.createSourceFile(name, `${snippet.code}\nexport {};\n`, language, true);
  };
  const program = ts.createProgram([...files.keys()], options, host);
  const problems: string[] = [];
  for (const [name, snippet] of files) {
    const source = program.getSourceFile(name);
    if (source === undefined) throw new Error(`no source for ${name}`);
    for (const d of [...program.getSyntacticDiagnostics(source), ...program.getSemanticDiagnostics(source)]) {
      const { line } = source.getLineAndCharacterOfPosition(d.start ?? 0);
      const text = ts.flattenDiagnosticMessageText(d.messageText, '\n');
      problems.push(`docs/${snippet.doc}:${snippet.line + 1 + line}: ${text}`);
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
    expect(typeCheck()).toEqual([]);
  });
});
