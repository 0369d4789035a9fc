/**
 * `npm run bench:store`: what the results store costs a sweep.
 *
 * 1. Threads: 24 one-KiB windows of lib.es5.d.ts (`--windows N`: N, up to 106; Dmax 50, the 7 default τ)
 *    computed in-process with 1 and with 2 worker threads, interleaved (1 2 1 2 …),
 *    each on a fresh database: positions per second, the 2-thread/1-thread ratio
 *    (median and min–max over the pairs), and the main thread's share of the
 *    process CPU (its CPU time from /proc/self/task/PID/stat over the process's)
 *    and its CPU milliseconds per 1,000 positions: the writer runs there, and on
 *    2 cores each of its seconds is taken from a worker. The same sweep again on worker threads started and
 *    warmed beforehand (a long sweep's steady state, start-up not counted). As a
 *    control, in the same pairs: the engine alone
 *    (traceRange, no store, warm, the same windows split between the threads) in
 *    1 and 2 threads: how far two threads can scale on this machine at all; and
 *    the 1-minute load average at each sweep's start (a shared machine's others).
 * 2. Size and reports, for each database named on the command line (e.g. the
 *    example sweep and a larger one): bytes per position, and `report --all` and
 *    `report --by window` through the CLI, median of 5 warm runs with min–max,
 *    per run and per position, so one sees which one the time follows.
 *
 * With `--cli`, the pairs time `sparsetrace run` itself instead of the sweeps in
 * this process: the job written to a file, each sweep on a fresh database, from the
 * command's start to its exit (Node's start, the job's expansion, opening and
 * closing the store included), 1 and 2 threads interleaved, with the engine
 * alone as the control; and where each command's CPU went (Linux): its CPU
 * beyond its shards' (`runs.compute_seconds`), which at 2 threads is taken from
 * the shards, and at 2 threads the core-seconds it left idle.
 * `--data FILE` takes the windows from FILE instead of
 * lib.es5.d.ts (e.g. node_modules/typescript/lib/typescript.js for 1,000 windows).
 *
 *   npm run bench:store -- [--pairs N] [--windows N] [--data FILE] [--cli] [DB …]      (--pairs 0: only the databases)
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { availableParallelism, loadavg, tmpdir } from 'node:os';
import { Worker } from 'node:worker_threads';
import { basename, join, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { DEFAULT_TAUS, expandJob, type JobSpec } from '../src/job/index.js';
import { executeRuns, type RunEvents } from '../src/runner/execute.js';
import { ShardPool } from '../src/runner/pool.js';
import { childrenCpuSeconds, clockTicks, spread } from './stats.js';
import { listRuns, openDatabase, recordJob } from '../src/store/index.js';

const args = process.argv.slice(2);
const pairsFlag = args.indexOf('--pairs');
const PAIRS = pairsFlag >= 0 ? Number(args[pairsFlag + 1]) : 5;
const windowsFlag = args.indexOf('--windows');
const WINDOWS = windowsFlag >= 0 ? Number(args[windowsFlag + 1]) : 24;
const dataFlag = args.indexOf('--data');
const DATA = resolve(dataFlag >= 0 ? args[dataFlag + 1] : 'node_modules/typescript/lib/lib.es5.d.ts');
if (!existsSync(DATA)) {
  console.error(`bench:store: --data ${DATA}: no such file`);
  process.exit(2);
}
const CLI_SWEEPS = args.includes('--cli');
const valueAt = new Set([pairsFlag, windowsFlag, dataFlag].filter((k) => k >= 0).map((k) => k + 1));
const databases = args.filter((arg, k) => !arg.startsWith('--') && !valueAt.has(k));
// 8 KiB apart as before for up to 24 windows; closer for more, so they fit in the file (distinct windows all the same).
const STRIDE = Math.min(8192, Math.floor((statSync(DATA).size - 1024) / Math.max(1, WINDOWS - 1)));
if (!Number.isInteger(WINDOWS) || WINDOWS < 1 || STRIDE < 1024) {
  console.error(`bench:store: --windows ${args[windowsFlag + 1]}: not a number of 1 KiB windows that fit in ${DATA}`);
  process.exit(2);
}

const model = ['inputs/sat_model.bin', '../shared/inputs/sat_model.bin'].map((path) => resolve(path)).find(existsSync);
if (model === undefined) throw new Error('no sat_model.bin in ./inputs or ../shared/inputs (run `sparsetrace fetch-inputs`)');
const JOB: JobSpec = {
  name: `bench-${WINDOWS}-windows`,
  models: [model],
  data: [{ path: DATA, offset: 0, length: 1024, stride: STRIDE, count: WINDOWS }],
  dmax: [50],
  tau: [...DEFAULT_TAUS],
};

/** CPU seconds of the main thread (Linux: /proc/self/task/<pid>/stat, utime + stime in clock ticks). */
function mainThreadCpuSeconds(): number {
  const fields = readFileSync(`/proc/self/task/${process.pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return (Number(fields[11]) + Number(fields[12])) / clockTicks;
}

// The same Model objects in every sweep, so warm worker threads keep their trace tables.
const expandedJob = expandJob(JOB, () => {});
const models = expandedJob.models.map((loaded) => loaded.model);
const JOB_POSITIONS = expandedJob.runs.reduce((sum, run) => sum + run.positions, 0);

const silent: RunEvents = { jobPlanned() {}, runStarted() {}, shardCommitted() {}, runFinished() {} };

interface Sample {
  readonly positionsPerSecond: number;
  readonly mainThreadShare: number;
  /** The main thread's CPU milliseconds per 1,000 positions: what the writer costs, whatever the threads do. */
  readonly mainThreadMs: number;
}

/** The machine's 1-minute load average at each sweep's start: a shared machine's other work, printed with the figures. */
const loads: number[] = [];

/**
 * One sweep of JOB on a fresh database. Without `pool`, executeRuns starts and
 * stops its own worker threads, as `sparsetrace run` does (their start-up
 * counted); with one, the threads are already up and warm (a long sweep's
 * steady state).
 */
async function sweep(threads: number, pool?: ShardPool, job: JobSpec = JOB): Promise<Sample> {
  const folder = mkdtempSync(join(tmpdir(), 'sparsetrace-bench-'));
  try {
    const db = openDatabase(join(folder, 'bench.sqlite'));
    const expanded = expandJob(job, () => {});
    recordJob(db, { name: job.name, sha256: expanded.sha256, source: null, specJson: '{}' }, expanded.runs, 'bench');
    const positions = expanded.runs.reduce((sum, run) => sum + run.positions, 0);
    loads.push(loadavg()[0]);
    const mainCpu = mainThreadCpuSeconds();
    const cpu = process.cpuUsage();
    const started = performance.now();
    await executeRuns(db, models, expanded.runs, { threads, pool, stopSignal: new AbortController().signal, events: silent });
    const seconds = (performance.now() - started) / 1000;
    const busy = mainThreadCpuSeconds() - mainCpu;
    const used = process.cpuUsage(cpu);
    db.close();
    return { positionsPerSecond: positions / seconds, mainThreadShare: busy / ((used.user + used.system) / 1e6), mainThreadMs: (1e6 * busy) / positions };
  } finally {
    rmSync(folder, { recursive: true, force: true });
  }
}

/** A sweep on worker threads started and warmed (a 2-window sweep) beforehand. */
async function warmSweep(threads: number): Promise<Sample> {
  const pool = new ShardPool(threads);
  try {
    await sweep(threads, pool, { ...JOB, name: 'bench-warm-up', data: [{ ...JOB.data[0], offset: 100, count: 2 }] });
    return await sweep(threads, pool);
  } finally {
    await pool.destroy();
  }
}

/** Seconds `sparsetrace ARGV` takes, from its start to its exit (its output thrown away). */
const cli = (argv: readonly string[]): number => {
  const started = performance.now();
  const result = spawnSync(process.execPath, ['bin/sparsetrace.js', ...argv], { stdio: ['ignore', 'ignore', 'pipe'] });
  if (result.status !== 0) throw new Error(`sparsetrace ${argv.join(' ')}: ${result.stderr}`);
  return (performance.now() - started) / 1000;
};

/** A `sparsetrace run` sweep (cliSweep): its rate, and where the process's CPU went (NaN where /proc is not). */
interface CliSample {
  readonly positionsPerSecond: number;
  /** The process's CPU seconds beyond its shards' (`runs.compute_seconds`): the writer, V8's helper threads, the forward passes, start and exit. */
  readonly beyondShards: number;
  /** Core-seconds the process left unused: threads × wall − its CPU (at 1 thread the writer has a core of its own, so only at 2 and more). */
  readonly idle: number;
}

/** `sparsetrace run` of JOB (written to a file) with `threads` threads on a fresh database, as a user runs it: positions per second from the command's start to its exit, and its CPU. */
function cliSweep(threads: number): CliSample {
  const folder = mkdtempSync(join(tmpdir(), 'sparsetrace-bench-'));
  try {
    const jobPath = join(folder, 'job.json');
    const dbPath = join(folder, 'cli.sqlite');
    writeFileSync(jobPath, JSON.stringify({ name: JOB.name, models: JOB.models, data: JOB.data, dmax: JOB.dmax, tau: JOB.tau }));
    loads.push(loadavg()[0]);
    const cpuBefore = childrenCpuSeconds();
    const seconds = cli(['run', jobPath, '--db', dbPath, '--threads', String(threads), '--no-report']);
    const cpu = childrenCpuSeconds() - cpuBefore;
    const db = openDatabase(dbPath, { readonly: true });
    const shardSeconds = listRuns(db).reduce((sum, run) => sum + run.compute_seconds, 0);
    db.close();
    return { positionsPerSecond: JOB_POSITIONS / seconds, beyondShards: cpu - shardSeconds, idle: threads * seconds - cpu };
  } finally {
    rmSync(folder, { recursive: true, force: true });
  }
}

/** The control: `threads` engine threads share ENGINE_WINDOWS windows, started together once all are warm; positions per second. */
const ENGINE_WINDOWS = 12;
async function engineAlone(threads: number): Promise<number> {
  const start = new SharedArrayBuffer(4);
  const workers = Array.from(
    { length: threads },
    () =>
      new Worker(new URL("./engine-thread.js", import.meta.url), {
        workerData: { modelPath: model, dataPath: JOB.data[0].path, thresholds: JOB.tau, dmax: 50, windows: ENGINE_WINDOWS / threads, start },
      }),
  );
  const results = workers.map(
    (worker) =>
      new Promise<{ positions: number; seconds: number }>((resolve, reject) => {
        worker.on('message', (message: unknown) => {
          if (message !== 'warm') resolve(message as { positions: number; seconds: number });
        });
        worker.on('error', reject);
      }),
  );
  const warm = workers.map((worker) => new Promise<void>((resolve) => worker.once('message', () => resolve())));
  await Promise.all(warm);
  Atomics.store(new Int32Array(start), 0, 1);
  Atomics.notify(new Int32Array(start), 0);
  const done = await Promise.all(results);
  await Promise.all(workers.map((worker) => worker.terminate()));
  return done.reduce((sum, result) => sum + result.positions, 0) / Math.max(...done.map((result) => result.seconds));
}

const shown = (values: readonly number[], digits: number): string => {
  const { median, min, max } = spread(values);
  return `${median.toFixed(digits)} (${min.toFixed(digits)}–${max.toFixed(digits)})`;
};

if (PAIRS > 0 && CLI_SWEEPS) {
  console.log(`threads: \`sparsetrace run\` of ${JOB.data[0].count} one-KiB windows of ${basename(DATA)} (${JOB_POSITIONS} positions), Dmax 50, 7 τ, fresh database each; ${PAIRS} interleaved pairs after a warm-up pair`);
  cliSweep(1);
  cliSweep(2);
  const one: CliSample[] = [];
  const two: CliSample[] = [];
  const engineOne: number[] = [];
  const engineTwo: number[] = [];
  for (let pair = 0; pair < PAIRS; pair++) {
    one.push(cliSweep(1));
    two.push(cliSweep(2));
    engineOne.push(await engineAlone(1));
    engineTwo.push(await engineAlone(2));
  }
  const rates = (samples: CliSample[]) => samples.map((sample) => sample.positionsPerSecond);
  console.log(`  the command, start to exit: 1 thread ${shown(rates(one), 0)}, 2 threads ${shown(rates(two), 0)} positions/s`);
  console.log(`    2 threads / 1 thread: ${shown(two.map((sample, k) => sample.positionsPerSecond / one[k].positionsPerSecond), 2)}×`);
  // Where the ratio goes: at 2 threads each CPU-second beyond the shards is taken from them, and an idle core is lost.
  const beyond = (samples: CliSample[]) => shown(samples.map((sample) => sample.beyondShards), 2);
  console.log(`    CPU beyond the shards' (writer, V8's helpers, forward passes, start, exit): 1 thread ${beyond(one)}, 2 threads ${beyond(two)} s`);
  console.log(`    cores left idle at 2 threads (2 × wall − CPU): ${shown(two.map((sample) => sample.idle), 2)} core-seconds`);
  console.log(`  control, the engine alone (no store, warm, ${ENGINE_WINDOWS} windows): 1 thread ${shown(engineOne, 0)}, 2 threads ${shown(engineTwo, 0)} positions/s`);
  console.log(`    2 threads / 1 thread: ${shown(engineTwo.map((value, k) => value / engineOne[k]), 2)}×`);
  console.log(`  load average (1 min) at the sweeps' starts: ${shown(loads, 2)} on ${availableParallelism()} cores (others' work: a ratio below the engine's may be theirs)`);
} else if (PAIRS > 0) {
  console.log(`threads: ${JOB.data[0].count} one-KiB windows of ${basename(DATA)}, Dmax 50, 7 τ; ${PAIRS} interleaved pairs after a warm-up pair`);
  await sweep(1);
  await sweep(2);
  await engineAlone(1);
  await engineAlone(2);
  const one: Sample[] = [];
  const two: Sample[] = [];
  const warmOne: Sample[] = [];
  const warmTwo: Sample[] = [];
  const engineOne: number[] = [];
  const engineTwo: number[] = [];
  for (let pair = 0; pair < PAIRS; pair++) {
    one.push(await sweep(1));
    two.push(await sweep(2));
    warmOne.push(await warmSweep(1));
    warmTwo.push(await warmSweep(2));
    engineOne.push(await engineAlone(1));
    engineTwo.push(await engineAlone(2));
  }
  const report = (label: string, ones: Sample[], twos: Sample[]): void => {
    console.log(`  ${label}`);
    const main = (samples: Sample[]) => `main thread ${shown(samples.map((s) => 100 * s.mainThreadShare), 1)} % of process CPU, ${shown(samples.map((s) => s.mainThreadMs), 1)} ms per 1,000 positions`;
    console.log(`    1 thread   ${shown(ones.map((s) => s.positionsPerSecond), 0)} positions/s, ${main(ones)}`);
    console.log(`    2 threads  ${shown(twos.map((s) => s.positionsPerSecond), 0)} positions/s, ${main(twos)}`);
    console.log(`    2 threads / 1 thread: ${shown(twos.map((s, k) => s.positionsPerSecond / ones[k].positionsPerSecond), 2)}×`);
  };
  report('whole sweep, worker threads started by the sweep (as `sparsetrace run`):', one, two);
  report("the same sweep on worker threads already up and warm (a long sweep's steady state):", warmOne, warmTwo);
  console.log(`  control, the engine alone (no store, warm, ${ENGINE_WINDOWS} windows): 1 thread ${shown(engineOne, 0)}, 2 threads ${shown(engineTwo, 0)} positions/s`);
  console.log(`    2 threads / 1 thread: ${shown(engineTwo.map((value, k) => value / engineOne[k]), 2)}×`);
  console.log(`  load average (1 min) at the sweeps' starts: ${shown(loads, 2)} on ${availableParallelism()} cores (others' work: a ratio below the engine's may be theirs)`);
}

for (const path of databases) {
  const db = openDatabase(path, { readonly: true });
  const runs = listRuns(db);
  db.close();
  const positions = runs.reduce((sum, run) => sum + run.positions_done, 0);
  console.log(`\n${path}: ${runs.length} runs, ${positions} positions, ${(statSync(path).size / positions).toFixed(0)} bytes per position (file only; checkpoint the WAL first)`);
  for (const report of [['report', '--all'], ['report', '--all', '--by', 'window']]) {
    const argv = [...report, '--db', path];
    cli(argv); // warm the page cache
    const seconds = Array.from({ length: 5 }, () => cli(argv));
    console.log(
      `  ${report.join(' ').padEnd(26)} ${shown(seconds, 2)} s; ${((1000 * spread(seconds).median) / runs.length).toFixed(2)} ms per run, ${((1e6 * spread(seconds).median) / positions).toFixed(2)} µs per position`,
    );
  }
}
