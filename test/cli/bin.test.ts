import { execFileSync, spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, posix } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BIN, ensureBuilt, PACKAGE } from './run-cli.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const manifest = JSON.parse(readFileSync(join(PACKAGE, 'package.json'), 'utf8')) as {
  name: string;
  bin: Record<string, string>;
  files: string[];
};
/** The bin target as npm sees it, relative to the package: `bin/tollgate.js`. */
const target = posix.normalize(manifest.bin.tollgate as string);

beforeAll(() => ensureBuilt());

// npm links package binaries while it installs, before the root `prepare` builds dist/: a bin
// that points into dist/ (or that git does not carry) is missing after a fresh clone's first
// `npm install`, and `npx tollgate` then fetches some other package from the registry.
describe('the tollgate bin exists after the first npm install', () => {
  it('is a committed, executable file outside dist/, with a shebang, and is packed', () => {
    expect(target).toBe('bin/tollgate.js');
    const path = join(PACKAGE, target);
    expect(BIN).toBe(path);
    const staged = execFileSync('git', ['ls-files', '--stage', '--', path], { cwd: ROOT, encoding: 'utf8' });
    expect(staged, 'git must carry the bin with its executable bit').toMatch(/^100755 /);
    expect(statSync(path).mode & 0o111).not.toBe(0);
    expect(readFileSync(path, 'utf8').split('\n')[0]).toBe('#!/usr/bin/env node');
    expect(manifest.files.some((f) => target === f || target.startsWith(`${f}/`))).toBe(true);
  });

  it('package-lock.json records the same bin: a fresh install links what the lock says', () => {
    const lock = JSON.parse(readFileSync(join(ROOT, 'package-lock.json'), 'utf8')) as {
      packages: Record<string, { bin?: Record<string, string> }>;
    };
    expect(lock.packages['packages/cli']?.bin).toEqual({ tollgate: target });
  });

  it('node_modules/.bin/tollgate --help runs the built CLI', () => {
    const result = spawnSync(join(ROOT, 'node_modules', '.bin', 'tollgate'), ['--help'], { encoding: 'utf8' });
    expect({ status: result.status, stderr: result.stderr }).toEqual({ status: 0, stderr: '' });
    expect(result.stdout).toMatch(/^Usage: tollgate <command>/);
  });

  describe('before the build', () => {
    const dir = mkdtempSync(join(tmpdir(), 'tollgate-bin-'));
    afterAll(() => rmSync(dir, { recursive: true, force: true }));

    it('says how to build it, in one line, exit 1', () => {
      // The bin alone, in a package with no dist/.
      mkdirSync(join(dir, 'bin'));
      writeFileSync(join(dir, 'package.json'), JSON.stringify({ name: 'tollgate', type: 'module' }));
      copyFileSync(BIN, join(dir, 'bin', 'tollgate.js'));
      const result = spawnSync(process.execPath, [join(dir, 'bin', 'tollgate.js'), '--help'], { encoding: 'utf8' });
      expect(result.status).toBe(1);
      expect(result.stdout).toBe('');
      expect(result.stderr).toBe('tollgate: the CLI is not built (no dist/cli.js): run npm run build\n');
    });
  });
});
