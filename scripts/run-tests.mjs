// Runs the built test files (dist/test/*.test.js) two at a time, the longest
// first: a longest-processing-time schedule from the durations measured in
// test/durations.json, so that both cores stay busy to the end instead of one
// long file running alone at the tail (node --test sorts its files by name).
// Each file runs in its own `node --test`; its spec output is printed whole
// when it ends, so two files' lines never interleave. Exits 1 when any file
// fails. Used by `npm test` (after the build).
//
//   node scripts/run-tests.mjs [--concurrency N] [--record] [file ...]
//
// --record writes the durations this run measured back to test/durations.json
// (do it on a quiet machine; the order is all they are used for).
//
// A file still running after FILE_LIMIT_SECONDS is stopped (SIGTERM, then SIGKILL)
// and counted as failed, its output so far printed: a test that hangs names itself
// (the tests after the last one printed) instead of holding CI until its own limit.
import { spawn } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { basename, dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const durationsPath = join(root, 'test', 'durations.json');

const args = process.argv.slice(2);
let concurrency = 2;
let record = false;
const named = [];
for (let k = 0; k < args.length; k++) {
  if (args[k] === '--concurrency') concurrency = Number(args[++k]);
  else if (args[k] === '--record') record = true;
  else named.push(args[k]);
}
if (!Number.isInteger(concurrency) || concurrency < 1) {
  console.error('run-tests: --concurrency must be a whole number ≥ 1');
  process.exit(2);
}

const testFolder = join(root, 'dist', 'test');
const files = named.length > 0 ? named : readdirSync(testFolder).filter((name) => name.endsWith('.test.js')).map((name) => join(testFolder, name));
if (files.length === 0) {
  console.error(`run-tests: no test files in ${relative(root, testFolder)} (run npm run build first)`);
  process.exit(2);
}

/** Seconds each test file took when last recorded, by the name of its source (e.g. "queue.test.ts"). */
const expected = existsSync(durationsPath) ? JSON.parse(readFileSync(durationsPath, 'utf8')) : {};
const sourceName = (file) => basename(file).replace(/\.js$/, '.ts');
// A file with no recorded duration (a new one) goes first: it may be long. Then the longest first;
// ties by size, then name, so the order is the same every time.
const unknownFirst = Number.POSITIVE_INFINITY;
const plannedSeconds = (file) => expected[sourceName(file)] ?? unknownFirst;
const order = [...files].sort((a, b) => plannedSeconds(b) - plannedSeconds(a) || statSync(b).size - statSync(a).size || (a < b ? -1 : 1));

const started = Date.now();
const measured = {};
const failed = [];
let next = 0;
/** The files' processes running now: a stop signal is passed on to them (they end their own children). */
const running = new Set();
let stoppedBy = null;
const SIGNAL_CODES = { SIGINT: 130, SIGTERM: 143, SIGHUP: 129 };
/** About five times the longest file's time on a loaded machine (queue.test, 63 s recorded). */
const FILE_LIMIT_SECONDS = 300;
for (const signal of Object.keys(SIGNAL_CODES)) {
  process.on(signal, () => {
    stoppedBy = signal;
    for (const child of running) child.kill(signal);
  });
}

function runFile(file) {
  return new Promise((resolve) => {
    const begin = Date.now();
    const child = spawn(process.execPath, ['--test', '--test-reporter=spec', file], { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
    running.add(child);
    const chunks = [];
    child.stdout.on('data', (chunk) => chunks.push(chunk));
    child.stderr.on('data', (chunk) => chunks.push(chunk));
    let timedOut = false;
    const limit = setTimeout(() => {
      timedOut = true;
      child.kill('SIGTERM');
      setTimeout(() => child.kill('SIGKILL'), 10_000).unref();
    }, FILE_LIMIT_SECONDS * 1000);
    child.on('close', (code, signal) => {
      clearTimeout(limit);
      running.delete(child);
      const seconds = (Date.now() - begin) / 1000;
      measured[sourceName(file)] = Math.round(seconds * 10) / 10;
      const ok = code === 0 && !timedOut;
      const why = timedOut ? `still running after ${FILE_LIMIT_SECONDS} s, stopped` : (signal ?? `exit ${code}`);
      if (!ok) failed.push(`${relative(root, file)} (${why})`);
      process.stdout.write(`\n── ${relative(root, file)}: ${ok ? 'passed' : `FAILED (${why})`} in ${seconds.toFixed(1)} s\n`);
      process.stdout.write(Buffer.concat(chunks));
      resolve();
    });
  });
}

async function lane() {
  while (next < order.length && stoppedBy === null) await runFile(order[next++]);
}

await Promise.all(Array.from({ length: Math.min(concurrency, order.length) }, lane));

const wall = ((Date.now() - started) / 1000).toFixed(1);
if (record) {
  const sortedDurations = Object.fromEntries(Object.entries({ ...expected, ...measured }).sort(([a], [b]) => (a < b ? -1 : 1)));
  writeFileSync(durationsPath, `${JSON.stringify(sortedDurations, null, 2)}\n`);
}
if (stoppedBy !== null) {
  process.stdout.write(`\nstopped by ${stoppedBy} after ${wall} s: ${order.length - next} test files not started\n`);
  process.exit(SIGNAL_CODES[stoppedBy]);
}
if (failed.length > 0) {
  process.stdout.write(`\n${failed.length} of ${order.length} test files FAILED (${wall} s, ${concurrency} at a time):\n${failed.map((name) => `  ${name}\n`).join('')}`);
  process.exit(1);
}
process.stdout.write(`\nall ${order.length} test files passed (${wall} s, ${concurrency} at a time)\n`);
