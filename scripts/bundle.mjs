// Bundles the compiled CLI (dist/src, from tsc) into dist/bundle/, which
// bin/sparsetrace.js runs: main.js (the CLI), worker.js (the worker threads',
// at the path the pool gives piscina: ./worker.js beside its own chunk) and
// shared chunks, cut at each lazy import, so each command still loads only
// what it runs. Start-up is the reason: a `run` loads 24 files where Node
// resolved, read and compiled 56 of ours and 40 of its packages (about 15 % of
// a Q1 job's wall time). dist/bundle sits as deep as dist/src, so
// `new URL('../../package.json', import.meta.url)` still finds package.json.
// Run by `npm run build`, after tsc.
import { build } from 'esbuild';
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';
import { rmSync } from 'node:fs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');

// Chunk names carry a content hash: without this, each build would leave the last one's chunks behind.
rmSync(join(root, 'dist/bundle'), { recursive: true, force: true });

await build({
  absWorkingDir: root,
  entryPoints: { main: 'dist/src/cli/main.js', worker: 'dist/src/runner/worker.js' },
  outdir: 'dist/bundle',
  entryNames: '[name]',
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  sourcemap: 'linked',
  // Kept as packages: native (better-sqlite3), loading their own files by path
  // (piscina's worker), or heavy and lazily loaded (the queue, the charts), so
  // test/startup.test.ts can still see which command loads them.
  external: ['better-sqlite3', 'piscina', 'cli-progress', 'bullmq', 'ioredis', 'vega', 'vega-lite', 'puppeteer-core'],
  // CommonJS code bundled into ES modules (yargs' helpers) calls require().
  banner: { js: "import { createRequire as createRequireForBundle } from 'node:module'; const require = createRequireForBundle(import.meta.url);" },
  logLevel: 'warning',
});
