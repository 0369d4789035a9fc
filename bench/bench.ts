/**
 * `npm run bench`: how fast the engine and the CLI are, measured so that the
 * figures can be compared.
 *
 * Every figure is the median of several rounds with its min–max; rounds of the
 * things compared run interleaved (A B A B …) after a warm-up, so a drifting
 * machine moves both, and ratios are taken round by round.
 *
 * 1. Engine alone, one thread, warm, in-process, at the Q1 settings (the
 *    shipped model, the first 1024 bytes, Dmax 50, the 7 default τ): positions
 *    per second of traceRange over the window (and per CPU-second, which a
 *    busy machine distorts less), and over its first positions against the
 *    plain implementation of the spec (test/plain), warm against warm.
 * 2. The CLI on a multi-window job (windows of enwik_1024.txt and of
 *    TypeScript's lib.es5.d.ts, Dmax 50, 7 τ): positions per CPU-second of a
 *    fresh `sparsetrace run` (all threads' CPU time, start-up and report included).
 * 3. The whole Q1 job, fresh process to printed report, wall and CPU seconds;
 *    when Q1_REFERENCE_BIN names a build of the reference program, that program
 *    runs interleaved with it and the ratio is printed. Its arguments are
 *    Q1_REFERENCE_ARGS (split on spaces; default: the data and model paths, as
 *    q1_sparsity.c takes them: `q1_sparsity <data_file> <model_file>`).
 *
 * BENCH_ROUNDS sets the rounds (default 7 in-process, 5 for fresh processes;
 * at least 5).
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { forwardStates, patternPeaksInKernel, traceRange, traceTables, type Model, type TraceInput, type TraceTables } from '../src/engine/index.js';
import { parseModel } from '../src/model/format.js';
import { FREQUENCY_TAUS } from '../src/page.js';
import { plainQ1 } from '../test/plain/plainQ1.js';
import { childrenCpuSeconds, spread, type Spread } from './stats.js';

const THRESHOLDS = [1e-5, 1e-4, 1e-3, 1e-2, 1e-1, 1, 10];
const DMAX = 50;
const WINDOW = 1024;
const PLAIN_POSITIONS = 150;
const ROUNDS = Math.max(5, Number(process.env.BENCH_ROUNDS ?? 7) || 7);
const PROCESS_ROUNDS = Math.max(5, Number(process.env.BENCH_ROUNDS ?? 5) || 5);

/** ./inputs/ if it holds the shipped files, else ../shared/inputs (both relative to the project root). */
function inputsFolder(): string {
  const local = resolve(process.cwd(), 'inputs');
  if (existsSync(join(local, 'sat_model.bin')) && existsSync(join(local, 'enwik_1024.txt'))) return local;
  return resolve(process.cwd(), '..', 'shared', 'inputs');
}

const format = (value: number, digits: number): string => value.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });
const show = (s: Spread, digits: number, unit: string, rounds = ROUNDS): string =>
  `${format(s.median, digits).padStart(10)} ${unit}  (min–max ${format(s.min, digits)}–${format(s.max, digits)}, ${rounds} rounds)`;
const line = (label: string, value: string): void => console.log(`  ${label.padEnd(46)} ${value}`);

function seconds(run: () => void): number {
  const started = performance.now();
  run();
  return (performance.now() - started) / 1000;
}

/** Wall and CPU seconds (user + system of this process: one thread here) of `run`. */
function wallAndCpu(run: () => void): { wall: number; cpu: number } {
  const cpuBefore = process.cpuUsage();
  const started = performance.now();
  run();
  const wall = (performance.now() - started) / 1000;
  const { user, system } = process.cpuUsage(cpuBefore);
  return { wall, cpu: (user + system) / 1e6 };
}

// ---------------------------------------------------------------------------
// 1. Engine alone.

const folder = inputsFolder();
const modelPath = join(folder, 'sat_model.bin');
const dataPath = join(folder, 'enwik_1024.txt');
const model: Model = parseModel(readFileSync(modelPath), 'sat_model.bin');
const window = new Uint8Array(readFileSync(dataPath)).subarray(0, WINDOW);
const positions = window.length - 1;
const plainWindow = window.subarray(0, PLAIN_POSITIONS + 1); // N bytes give N-1 positions
const thresholds = Float32Array.from(THRESHOLDS);

console.log(`inputs: ${folder} (H = ${model.hidden}, Dmax ${DMAX}, ${THRESHOLDS.length} thresholds)`);
console.log(`node ${process.version}, ${availableParallelism()} cores; medians of interleaved rounds after a warm-up`);
console.log('');
console.log(`1. Engine, one thread, warm, in-process (Q1 settings: ${positions} positions)`);

// As a run's shards trace (runner/worker.ts): the activation frequency at FREQUENCY_TAUS counted too.
const input: TraceInput = { model, bytes: window, states: forwardStates(model, window), thresholds, dmax: DMAX, rule: 'q1', frequencyThresholds: Float32Array.from(FREQUENCY_TAUS) };
const tables: TraceTables = traceTables(model);
const traceWindow = (): void => void traceRange(input, tables, 0, positions);
const traceFirst = (): void => void traceRange(input, tables, 0, PLAIN_POSITIONS);
const plainFirst = (): void => void plainQ1(model, plainWindow, THRESHOLDS, DMAX);
/** Everything per window around the trace: forward pass, tables, pattern peaks. */
const windowSetup = (): void => {
  const states = forwardStates(model, window);
  const fresh = traceTables(model);
  const range = traceRange({ model, bytes: window, states, thresholds, dmax: DMAX, rule: 'q1' }, fresh, 0, 1);
  patternPeaksInKernel(fresh, range.peakFactors);
};

for (let r = 0; r < 3; r++) traceWindow(); // warm-up: JIT, WebAssembly tiers
windowSetup();
plainFirst();

const engineRates: number[] = [];
const engineCpuRates: number[] = [];
const engineFirstRates: number[] = [];
const plainRates: number[] = [];
const ratios: number[] = [];
const setupMs: number[] = [];
for (let r = 0; r < ROUNDS; r++) {
  const { wall, cpu } = wallAndCpu(traceWindow);
  engineRates.push(positions / wall);
  engineCpuRates.push(positions / cpu);
  const engineFirst = PLAIN_POSITIONS / seconds(traceFirst);
  const plain = PLAIN_POSITIONS / seconds(plainFirst);
  engineFirstRates.push(engineFirst);
  plainRates.push(plain);
  ratios.push(engineFirst / plain);
  setupMs.push(1000 * seconds(windowSetup));
}
line(`engine, traceRange over ${positions} positions:`, show(spread(engineRates), 0, 'positions/s'));
// On a shared machine the wall figure includes waiting for a core; CPU time does not.
line('  the same, per CPU-second of the thread:', show(spread(engineCpuRates), 0, 'positions/CPU-s'));
line(`engine, first ${PLAIN_POSITIONS} positions:`, show(spread(engineFirstRates), 0, 'positions/s'));
line(`plain implementation, first ${PLAIN_POSITIONS} positions:`, show(spread(plainRates), 1, 'positions/s'));
line(`engine/plain (same positions, per round):`, show(spread(ratios), 1, '×'));
line('per window: forward pass + tables + peaks:', show(spread(setupMs), 1, 'ms'));

// ---------------------------------------------------------------------------
// 2 and 3. Fresh processes.

interface ProcessTime {
  wall: number;
  cpu: number;
}

function timeProcess(command: string, args: readonly string[]): ProcessTime {
  const cpuBefore = childrenCpuSeconds();
  const started = performance.now();
  const run = spawnSync(command, args, { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
  const wall = (performance.now() - started) / 1000;
  const cpu = childrenCpuSeconds() - cpuBefore;
  if (run.error !== undefined) throw run.error;
  if (run.status !== 0) throw new Error(`${command} ${args.join(' ')} failed (${run.status}): ${run.stderr}`);
  return { wall, cpu };
}

/** `sparsetrace run <job>` in a fresh process with a fresh database. */
function cliRun(job: string, extra: readonly string[] = []): ProcessTime {
  const scratch = mkdtempSync(join(tmpdir(), 'sparsetrace-bench-'));
  try {
    return timeProcess(process.execPath, ['bin/sparsetrace.js', 'run', job, '--db', join(scratch, 'bench.sqlite'), ...extra]);
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
}

const scratchJobs = mkdtempSync(join(tmpdir(), 'sparsetrace-bench-jobs-'));
try {
  console.log('');
  const es5 = resolve(process.cwd(), 'node_modules', 'typescript', 'lib', 'lib.es5.d.ts');
  const data: { path: string; offset: number; length: number; stride: number; count: number }[] = [
    { path: dataPath, offset: 0, length: 512, stride: 128, count: 5 },
  ];
  if (existsSync(es5) && statSync(es5).size >= 4096 + 7 * 4096 + 1024) data.push({ path: es5, offset: 4096, length: 1024, stride: 4096, count: 8 });
  const jobPositions = data.reduce((sum, source) => sum + source.count * (source.length - 1), 0);
  const windows = data.reduce((sum, source) => sum + source.count, 0);
  const multiJob = join(scratchJobs, 'bench-multi-window.json');
  writeFileSync(multiJob, JSON.stringify({ name: 'bench-multi-window', models: [modelPath], data, dmax: [DMAX], tau: THRESHOLDS }));
  console.log(`2. CLI, multi-window job (${windows} windows, ${jobPositions.toLocaleString('en-US')} positions, Dmax ${DMAX}, ${THRESHOLDS.length} τ), fresh process, all cores`);
  cliRun(multiJob); // warm-up (file cache)
  const perCpuSecond: number[] = [];
  const perWallSecond: number[] = [];
  for (let r = 0; r < PROCESS_ROUNDS; r++) {
    const { wall, cpu } = cliRun(multiJob);
    perCpuSecond.push(jobPositions / cpu);
    perWallSecond.push(jobPositions / wall);
  }
  line('positions per CPU-second:', show(spread(perCpuSecond), 0, 'positions/CPU-s', PROCESS_ROUNDS));
  line('positions per wall-second:', show(spread(perWallSecond), 0, 'positions/s', PROCESS_ROUNDS));
  // What the CLI keeps of the engine's CPU efficiency: start-up, writes and report included.
  const cliShare = spread(perCpuSecond).median / spread(engineCpuRates).median;
  line('CLI/engine, per CPU-second (medians of 1, 2):', `${format(cliShare, 2).padStart(10)} ×`);

  console.log('');
  const reference = process.env.Q1_REFERENCE_BIN;
  console.log(`3. Whole Q1 job (jobs/q1-sparsity.json), fresh process to printed report${reference ? `, against ${reference}` : ''}`);
  const q1 = (): ProcessTime => cliRun('jobs/q1-sparsity.json', ['--model', modelPath, '--data', dataPath]);
  // The reference program's usage: q1_sparsity <data_file> <model_file>.
  const referenceArgs = (process.env.Q1_REFERENCE_ARGS ?? `${dataPath} ${modelPath}`).split(' ').filter((arg) => arg !== '');
  const referenceRun = (): ProcessTime => timeProcess(reference as string, referenceArgs);
  q1();
  if (reference) referenceRun();
  const q1Wall: number[] = [];
  const q1Cpu: number[] = [];
  const refWall: number[] = [];
  const refCpu: number[] = [];
  const wallRatios: number[] = [];
  for (let r = 0; r < PROCESS_ROUNDS; r++) {
    const ours = q1();
    q1Wall.push(ours.wall);
    q1Cpu.push(ours.cpu);
    if (reference) {
      const theirs = referenceRun();
      refWall.push(theirs.wall);
      refCpu.push(theirs.cpu);
      wallRatios.push(ours.wall / theirs.wall);
    }
  }
  line('sparsetrace run, wall:', show(spread(q1Wall), 3, 's', PROCESS_ROUNDS));
  line('sparsetrace run, CPU (all threads):', show(spread(q1Cpu), 3, 's', PROCESS_ROUNDS));
  if (reference) {
    line('reference program, wall:', show(spread(refWall), 3, 's', PROCESS_ROUNDS));
    line('reference program, CPU:', show(spread(refCpu), 3, 's', PROCESS_ROUNDS));
    line('reference program, positions/s:', show(spread(refWall.map((wall) => positions / wall)), 0, 'positions/s'));
    line('sparsetrace/reference wall (per round):', show(spread(wallRatios), 2, '×', PROCESS_ROUNDS));
    line('engine (section 1) per thread/reference:', `${format(spread(engineRates).median / (positions / spread(refWall).median), 1).padStart(10)} ×  (medians)`);
  } else {
    line('reference program:', '(set Q1_REFERENCE_BIN to a build of it to compare)');
  }
} finally {
  rmSync(scratchJobs, { recursive: true, force: true });
}
