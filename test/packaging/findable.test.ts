import { existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

// Issue 14 item 8: every package can be found from the registry's page. npm renders a package's
// README without the repository around it, so its links must be absolute; they point at this
// repository's files on GitHub, checked here against the tree, or at the other packages' npm pages.

const root = fileURLToPath(new URL('../..', import.meta.url));

interface Manifest {
  name: string;
  private?: boolean;
  repository?: { type?: string; url?: string; directory?: string };
  homepage?: string;
  bugs?: { url?: string };
}

const read = (file: string): Manifest => JSON.parse(readFileSync(join(root, file), 'utf8')) as Manifest;
const workspaces = (JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { workspaces: string[] })
  .workspaces;
const packages = workspaces.map((dir) => ({ dir, manifest: read(`${dir}/package.json`) }));

/** The repository every package names: the core package's, which the others must agree with. */
const repoUrl = /^git\+(https:\/\/github\.com\/[\w.-]+\/[\w.-]+)\.git$/.exec(
  read('packages/core/package.json').repository?.url ?? '',
)?.[1];

/** GitHub's heading anchors: lower case, punctuation dropped, spaces to hyphens. */
function anchors(file: string): Set<string> {
  const text = readFileSync(file, 'utf8').replace(/^```[\s\S]*?^```/gm, '');
  const slug = (h: string) =>
    h
      .toLowerCase()
      .replace(/[^\p{L}\p{N}\s_-]/gu, '')
      .replace(/\s/g, '-');
  return new Set(['readme', ...[...text.matchAll(/^#{1,6} (.+)$/gm)].map((m) => slug(m[1] as string))]);
}

function links(file: string): string[] {
  const text = readFileSync(join(root, file), 'utf8').replace(/^```[\s\S]*?^```/gm, '');
  return [...text.matchAll(/\]\(([^)\s]+)\)/g)].map((m) => m[1] as string);
}

describe('findable: repository, homepage, bugs and README links', () => {
  it('names one GitHub repository', () => {
    expect(repoUrl).toMatch(/^https:\/\/github\.com\//);
  });

  it.each(packages)('$manifest.name has repository (with its directory), homepage and bugs', ({ dir, manifest }) => {
    expect(manifest.repository).toEqual({ type: 'git', url: `git+${repoUrl}.git`, directory: dir });
    expect(manifest.homepage).toBe(`${repoUrl}/tree/main/${dir}#readme`);
    expect(manifest.bugs).toEqual({ url: `${repoUrl}/issues` });
  });

  it.each(packages)("$manifest.name's README links work on the registry's page", ({ dir }) => {
    const readme = `${dir}/README.md`;
    expect(existsSync(join(root, readme))).toBe(true);
    const broken: string[] = [];
    const names = new Set(packages.filter((p) => p.manifest.private !== true).map((p) => p.manifest.name));
    for (const target of links(readme)) {
      if (target.startsWith('#')) continue;
      const npm = /^https:\/\/www\.npmjs\.com\/package\/(.+)$/.exec(target);
      if (npm !== null) {
        if (!names.has(npm[1] as string)) broken.push(`${target}: not a published package of this repository`);
        continue;
      }
      if (!target.startsWith(`${repoUrl}/`)) {
        if (!/^https?:\/\//.test(target)) broken.push(`${target}: relative, which the registry's page cannot follow`);
        continue;
      }
      const match = /^\/(blob|tree)\/main\/([^#]+)(?:#(.+))?$/.exec(target.slice(repoUrl?.length));
      if (match === null) continue; // e.g. /issues
      const [, kind, path = '', anchor] = match;
      const local = join(root, path);
      if (!existsSync(local)) broken.push(`${target}: no such file`);
      else if ((kind === 'tree') !== statSync(local).isDirectory())
        broken.push(`${target}: use ${kind === 'tree' ? 'blob' : 'tree'}`);
      else if (anchor !== undefined) {
        const md = kind === 'tree' ? join(local, 'README.md') : local;
        if (!md.endsWith('.md') || !anchors(md).has(anchor)) broken.push(`${target}: no such heading`);
      }
    }
    expect(broken).toEqual([]);
  });

  it('the root README links docs/, the CLI and every published package', () => {
    const targets = links('README.md');
    expect(targets).toContain('docs/README.md');
    const published = packages.filter((p) => p.manifest.private !== true);
    expect(published.map((p) => p.manifest.name)).toContain('tollgate'); // the CLI
    expect(published.filter((p) => !targets.includes(`${p.dir}/README.md`)).map((p) => p.manifest.name)).toEqual([]);
  });
});
