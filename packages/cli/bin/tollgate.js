#!/usr/bin/env node
// The `tollgate` command. It is committed, not built: npm links a package's bin while it
// installs, before the root `prepare` builds dist/, so a bin pointing into dist/ was missing
// after the first `npm install` of a fresh clone. This file always exists; it runs the built CLI.
import { existsSync } from 'node:fs';

const cli = new URL('../dist/cli.js', import.meta.url);
if (!existsSync(cli)) {
  process.stderr.write('tollgate: the CLI is not built (no dist/cli.js): run npm run build\n');
  process.exit(1);
}
await import(cli.href);
