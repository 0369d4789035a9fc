#!/usr/bin/env node
// Launcher: the CLI is compiled to dist/ by `npm install` (prepare) or `npm run build`.
import { existsSync } from 'node:fs';

const entry = new URL('../dist/src/cli/main.js', import.meta.url);
if (!existsSync(entry)) {
  process.stderr.write('sparsetrace: not built yet; run `npm install` (or `npm run build`) in the project folder first\n');
  process.exit(1);
}
await import(entry.href);
