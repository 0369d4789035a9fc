/**
 * A sweep's JavaScript is optimized once per thread, not once per run. V8
 * compiles a hot loop of a closure made per call, or of a function whose
 * compiled code leaves at a branch not yet run, again and again: before it was
 * found, the writer's thread compiled some of its functions once per run (50
 * times in a 300-window sweep), which took CPU from the worker threads on two
 * cores. Read from V8's own trace (`--trace-opt`) of `sparsetrace run`, so only
 * a process shows it.
 */
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { PROJECT_ROOT, SHARED_MODEL, temporaryFolder } from './cli.js';

const folder = temporaryFolder('jit');
after(() => folder.remove());

/**
 * Runs in the sweep. V8 drops such code at its major collections, so a function
 * compiled "once per run" was compiled once every few runs: 50 times in 300
 * runs of the 1 KiB windows below, and at most 7 times in 96.
 */
const RUNS = 300;
/** Compilations of one function in one thread allowed: V8 may compile a function again as its feedback grows (at most 4 times in this sweep). */
const MOST_COMPILATIONS = 8;

/** Turbofan compilations per function and thread (V8's SharedFunctionInfo: one per function and isolate) of `sparsetrace run` on `job`. */
function compilations(job: object, threads: number): Map<string, number> {
  const path = join(folder.path, 'sweep.json');
  writeFileSync(path, JSON.stringify(job));
  const result = spawnSync(
    process.execPath,
    ['--trace-opt', join(PROJECT_ROOT, 'bin', 'sparsetrace.js'), 'run', path, '--db', join(folder.path, `sweep-${threads}.sqlite`), '--threads', String(threads), '--no-report'],
    { cwd: PROJECT_ROOT, encoding: 'utf8', maxBuffer: 256 << 20 },
  );
  assert.equal(result.status, 0, result.stderr);
  const counts = new Map<string, number>();
  for (const match of result.stdout.matchAll(/^\[completed compiling \S+ <JSFunction ([^>]*\(sfi = 0x[0-9a-f]+\))> \(target TURBOFAN\)/gm)) {
    counts.set(match[1], (counts.get(match[1]) ?? 0) + 1);
  }
  return counts;
}

describe('sparsetrace run under V8', () => {
  test(`${RUNS} runs: no function is compiled more than ${MOST_COMPILATIONS} times in a thread`, () => {
    const job = {
      name: 'jit',
      models: [SHARED_MODEL],
      // TypeScript's compiler, installed by npm ci and pinned by package-lock.json: 2.4 MB of varied text.
      data: [{ path: join(PROJECT_ROOT, 'node_modules', 'typescript', 'lib', 'typescript.js'), length: 1024, stride: 8192, count: RUNS }],
      dmax: [50],
      tau: [1e-4, 3e-4, 1e-3, 3e-3, 1e-2, 3e-2, 1e-1],
    };
    const counts = compilations(job, 2);
    // The trace is read: the writer's and the workers' functions are compiled.
    assert.ok(counts.size >= 50, `V8's trace names ${counts.size} compiled functions; is its format still "[completed compiling … <JSFunction name (sfi = …)> (target TURBOFAN)"?`);
    const often = [...counts].filter(([, count]) => count > MOST_COMPILATIONS).map(([name, count]) => `${name}: ${count} times`);
    assert.deepEqual(often, [], `compiled again and again (once per run?): ${often.join('; ')}`);
  });
});
