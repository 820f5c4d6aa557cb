import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const read = (path: string) => readFileSync(fileURLToPath(new URL(`../../${path}`, import.meta.url)), 'utf8');

/** `KEY: 'TOLLGATE_…'` pairs of `export const ErrorCodes = { … } as const` in the source, not the built package. */
function sourceCodes(): Map<string, string> {
  const source = read('packages/core/src/errors.ts');
  const block = /export const ErrorCodes = \{([\s\S]*?)\} as const;/.exec(source)?.[1];
  if (block === undefined) throw new Error('ErrorCodes not found in packages/core/src/errors.ts');
  const codes = new Map<string, string>();
  for (const [, key, value] of block.matchAll(/^\s*([A-Z][A-Z0-9_]*):\s*'([A-Z][A-Z0-9_]*)',?\s*$/gm)) {
    codes.set(value as string, key as string);
  }
  return codes;
}

/** The `## \`TOLLGATE_…\` (\`ErrorCodes.KEY\`)` headings of docs/errors.md. */
function documentedCodes(): Map<string, string> {
  const docs = read('docs/errors.md');
  const codes = new Map<string, string>();
  for (const [, value, key] of docs.matchAll(/^## `(TOLLGATE_[A-Z0-9_]+)` \(`ErrorCodes\.([A-Z0-9_]+)`\)$/gm)) {
    codes.set(value as string, key as string);
  }
  return codes;
}

describe('docs/errors.md documents every error code', () => {
  const source = sourceCodes();
  const documented = documentedCodes();

  it('finds the codes in the source (the parser still matches errors.ts)', () => {
    expect(source.size).toBeGreaterThanOrEqual(10);
    expect(source.get('TOLLGATE_RATE_LIMITED')).toBe('RATE_LIMITED');
  });

  it('has a section for every code in packages/core/src/errors.ts', () => {
    const missing = [...source.keys()].filter((code) => !documented.has(code));
    expect(missing, `add a "## \`CODE\` (\`ErrorCodes.KEY\`)" section to docs/errors.md for each`).toEqual([]);
  });

  it('documents no code that the source no longer has', () => {
    const stale = [...documented.keys()].filter((code) => !source.has(code));
    expect(stale, 'remove these sections from docs/errors.md').toEqual([]);
  });

  it('names each code under its ErrorCodes key', () => {
    for (const [code, key] of source) expect(documented.get(code), code).toBe(key);
  });

  it('gives each code a meaning and what to do', () => {
    const docs = read('docs/errors.md');
    for (const code of source.keys()) {
      const section = docs.split(/^## /m).find((s) => s.startsWith(`\`${code}\``)) ?? '';
      expect(section, code).toMatch(/\*\*Meaning\.\*\* \S/);
      expect(section, code).toMatch(/\*\*What to do\.\*\* \S/);
    }
  });

  it('mentions no TOLLGATE_ code anywhere in the docs that does not exist', () => {
    const docs = read('docs/errors.md');
    const mentioned = new Set(docs.match(/\bTOLLGATE_[A-Z0-9_]+\b/g) ?? []);
    expect([...mentioned].filter((code) => !source.has(code))).toEqual([]);
  });
});
