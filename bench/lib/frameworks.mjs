// frameworks.json at the root: the one list of frameworks that tests, bench, examples and the
// package matrix read. The bench needs, per framework, its peers (lib/plan.mjs) and its server
// (http/<name>.mjs); a framework in the list without them fails here, naming what is missing.
import { existsSync, readFileSync } from 'node:fs';

/** @type {{ name: string, package: string, example: string }[]} */
export const frameworks = JSON.parse(
  readFileSync(new URL('../../frameworks.json', import.meta.url), 'utf8'),
).frameworks;

export const frameworkNames = frameworks.map((f) => f.name);

/** The workspace directory of each adapter (`packages/express` for `@tollgate/express`). */
export const adapterDirs = frameworks.map((f) => f.package.replace(/^@tollgate\//, ''));

/** Throws unless `table` (name → settings) covers exactly the frameworks in the list, each with its server. */
export function requireEveryFramework(where, table) {
  const names = Object.keys(table);
  const missing = frameworkNames.filter((n) => !names.includes(n));
  const unknown = names.filter((n) => !frameworkNames.includes(n));
  const noServer = frameworkNames.filter((n) => !existsSync(new URL(`../http/${n}.mjs`, import.meta.url)));
  if (missing.length + unknown.length + noServer.length > 0) {
    throw new Error(
      `${where}: frameworks.json lists ${frameworkNames.join(', ')}; missing here: ${missing.join(', ') || 'none'}; ` +
        `not in the list: ${unknown.join(', ') || 'none'}; without bench/http/<name>.mjs: ${noServer.join(', ') || 'none'}`,
    );
  }
}
