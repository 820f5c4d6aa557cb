import { readFileSync } from 'node:fs';

/** One framework tollgate has an adapter for, as frameworks.json lists it. */
export interface FrameworkEntry {
  /** The framework's npm package, e.g. `express`. */
  readonly name: string;
  /** The adapter, e.g. `@tollgate/express`. */
  readonly package: string;
  /** Its example app, e.g. `examples/express`. */
  readonly example: string;
}

/** frameworks.json at the root: the one list of frameworks that tests, bench, examples and the package matrix read. */
export const frameworks: readonly FrameworkEntry[] = (
  JSON.parse(readFileSync(new URL('../frameworks.json', import.meta.url), 'utf8')) as { frameworks: FrameworkEntry[] }
).frameworks;

export const frameworkNames: readonly string[] = frameworks.map((f) => f.name);

/**
 * `builders` in the list's order, after checking that it has one for every framework in the list and
 * none for another: so a framework added to the list fails here, naming `where`, until `where`
 * knows how to build its app.
 */
export function forEachFramework<T>(where: string, builders: Record<string, T>): (T & { name: string })[] {
  requireEveryFramework(where, Object.keys(builders));
  return frameworkNames.map((name) => ({ ...(builders[name] as T), name }));
}

/** Throws, naming `where`, unless `names` are exactly the frameworks in the list. */
export function requireEveryFramework(where: string, names: readonly string[]): void {
  const missing = frameworkNames.filter((name) => !names.includes(name));
  const unknown = names.filter((name) => !frameworkNames.includes(name));
  if (missing.length > 0 || unknown.length > 0) {
    throw new Error(
      `${where}: frameworks.json lists ${frameworkNames.join(', ')}; missing here: ${missing.join(', ') || 'none'}; not in the list: ${unknown.join(', ') || 'none'}`,
    );
  }
}
