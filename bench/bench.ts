/**
 * `npm run bench`: positions per second of the engine and of the plain
 * implementation (test/plain) on the shipped inputs, Dmax 50, the 7 default
 * thresholds. The plain one only runs on the first positions; the engine runs
 * on the same subset (like for like) and on the full window.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { forwardStates, patternPeaks, traceRange, traceTables, type Model } from '../src/engine/index.js';
import { parseModel } from '../src/model/format.js';
import { plainQ1 } from '../test/plain/plainQ1.js';

const THRESHOLDS = [1e-5, 1e-4, 1e-3, 1e-2, 1e-1, 1, 10];
const DMAX = 50;
const WINDOW = 1024;
const SUBSET_POSITIONS = 200;
const ENGINE_REPEATS = 3; // the engine is fast; take the best of a few runs

/** ./inputs/ if it holds the shipped files, else ../shared/inputs (both relative to the project root). */
function inputsFolder(): string {
  const local = resolve(process.cwd(), 'inputs');
  if (existsSync(join(local, 'sat_model.bin')) && existsSync(join(local, 'enwik_1024.txt'))) return local;
  return resolve(process.cwd(), '..', 'shared', 'inputs');
}

/** Everything the engine does for a window: forward pass, tables, trace of all positions, pattern peaks. */
function engineSeconds(model: Model, bytes: Uint8Array): number {
  let best = Infinity;
  for (let r = 0; r < ENGINE_REPEATS; r++) {
    const started = performance.now();
    const input = { model, bytes, states: forwardStates(model, bytes), thresholds: Float32Array.from(THRESHOLDS), dmax: DMAX };
    const range = traceRange(input, traceTables(model), 0, bytes.length - 1);
    patternPeaks(model, range.peakFactors);
    best = Math.min(best, (performance.now() - started) / 1000);
  }
  return best;
}

function plainSeconds(model: Model, bytes: Uint8Array): number {
  const started = performance.now();
  plainQ1(model, bytes, THRESHOLDS, DMAX);
  return (performance.now() - started) / 1000;
}

const folder = inputsFolder();
const model = parseModel(readFileSync(join(folder, 'sat_model.bin')), 'sat_model.bin');
const window = new Uint8Array(readFileSync(join(folder, 'enwik_1024.txt'))).subarray(0, WINDOW);
const subset = window.subarray(0, SUBSET_POSITIONS + 1); // N bytes give N-1 positions

const fullPositions = window.length - 1;
const subsetPositions = subset.length - 1;
const engineFullRate = fullPositions / engineSeconds(model, window);
const engineSubsetRate = subsetPositions / engineSeconds(model, subset);
const plainSubsetRate = subsetPositions / plainSeconds(model, subset);

const line = (label: string, value: string): void => console.log(`${label.padEnd(44)} ${value}`);
const rate = (perSecond: number): string => `${perSecond.toFixed(1).padStart(9)} positions/s`;
console.log(`inputs: ${folder} (H = ${model.hidden}, Dmax ${DMAX}, ${THRESHOLDS.length} thresholds)`);
line(`engine, full window (${fullPositions} positions):`, rate(engineFullRate));
line(`engine, first ${subsetPositions} positions:`, rate(engineSubsetRate));
line(`plain, first ${subsetPositions} positions:`, rate(plainSubsetRate));
line(`ratio engine/plain (first ${subsetPositions} positions):`, `${(engineSubsetRate / plainSubsetRate).toFixed(1).padStart(9)}×`);

/**
 * The whole product: `sparsetrace run` of the published job plus its report, in a
 * fresh process with a fresh database, as a user runs it. Best of a few runs.
 */
function cliJobSeconds(threads: number): number {
  let best = Infinity;
  for (let r = 0; r < ENGINE_REPEATS; r++) {
    const scratch = mkdtempSync(join(tmpdir(), 'sparsetrace-bench-'));
    const args = ['bin/sparsetrace.js', 'run', 'jobs/q1-sparsity.json', '--model', join(folder, 'sat_model.bin'), '--data', join(folder, 'enwik_1024.txt')];
    const started = performance.now();
    const run = spawnSync(process.execPath, [...args, '--db', join(scratch, 'bench.sqlite'), '--threads', String(threads)], { encoding: 'utf8' });
    const seconds = (performance.now() - started) / 1000;
    rmSync(scratch, { recursive: true, force: true });
    if (run.status !== 0) throw new Error(`sparsetrace run failed: ${run.stderr}`);
    best = Math.min(best, seconds);
  }
  return best;
}

const cores = availableParallelism();
const oneThread = cliJobSeconds(1);
const allThreads = cliJobSeconds(cores);
line('sparsetrace run + report, 1 thread:', `${oneThread.toFixed(3).padStart(9)} s`);
line(`sparsetrace run + report, ${cores} threads:`, `${allThreads.toFixed(3).padStart(9)} s`);
line(`speed-up ${cores} threads/1 thread:`, `${(oneThread / allThreads).toFixed(2).padStart(9)}×`);
