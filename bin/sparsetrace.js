#!/usr/bin/env node
// Launcher: the CLI is compiled and bundled into dist/bundle by `npm install` (prepare) or `npm run build`.
import { existsSync } from 'node:fs';

const entry = new URL('../dist/bundle/main.js', import.meta.url);
if (!existsSync(entry)) {
  process.stderr.write('sparsetrace: not built yet; run `npm install` (or `npm run build`) in the project folder first\n');
  process.exit(1);
}
// With --debug, stack traces point into the sources (dist/src and its maps), not the bundle.
if (process.argv.includes('--debug') || process.env.SPARSETRACE_DEBUG === '1') process.setSourceMapsEnabled(true);
await import(entry.href);
