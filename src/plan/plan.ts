import { existsSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import type { JobSpec, PlannedRun } from '../job/index.js';
import type { Model } from '../engine/index.js';
import { expandRuns } from '../jobrun/steps.js';
import { loadDataWindow } from '../model/index.js';
import { calibrateStoreWrites, databaseUsedBytes, estimateStoreBytes, listRuns, openDatabase, type RunRow } from '../store/index.js';
import { calibrateEngine, chainSteps, type EngineCost } from './calibrate.js';
import { defaultShardSize } from '../runner/plan.js';
import { memoryNeeded, type MemoryNeed } from '../runner/segments.js';

/** What a job will do, without doing it: runs, positions, what the database holds, disk and time. */
export interface JobPlan {
  readonly name: string;
  readonly database: string;
  readonly runs: { readonly total: number; readonly done: number; readonly partial: number };
  readonly positions: { readonly total: number; readonly stored: number; readonly toCompute: number };
  /** Per Dmax: runs and positions. */
  readonly byDmax: readonly { readonly dmax: number; readonly runs: number; readonly positions: number }[];
  readonly taus: number;
  readonly disk: {
    /** Bytes the job's results take in the store. */
    readonly jobBytes: number;
    /** Bytes still to write. */
    readonly toWriteBytes: number;
    readonly bytesPerPosition: number;
    /** `database`: scaled to the bytes per position measured on the database's finished runs; `model`: the store's per-row model. */
    readonly source: 'database' | 'model';
    /** Measured ÷ modelled, when source is `database`. */
    readonly scale: number | null;
    /** The database file's size now (0 if it does not exist). */
    readonly databaseBytes: number;
  };
  readonly time: {
    readonly seconds: number;
    readonly threads: number;
    /** Cores the job is expected to get: fewer than the threads when other processes share the machine. */
    readonly cores: number;
    /** CPU seconds of computing, of the runner's work around it, and of writing. */
    readonly computeSeconds: number;
    readonly overheadSeconds: number;
    readonly writeSeconds: number;
    readonly engine: EngineCost | null;
    readonly writeSecondsPerMB: number | null;
  };
  /** Memory the computing needs, about (runner/segments.ts memoryNeeded): bounded by the segment size, not by the windows' length. */
  readonly memory: MemoryNeed;
}

export interface PlanOptions {
  readonly threads: number;
  readonly database: string;
  /** Seconds to spend measuring the engine (default 1). */
  readonly calibrationSeconds?: number;
  /** The engine's costs, given rather than measured (no calibration): for a caller that knows them. */
  readonly engineCost?: EngineCost;
  readonly log: (line: string) => void;
}

/**
 * CPU seconds a run costs besides its positions, about: Node and the CLI
 * starting, the worker threads starting and warming up, the report. Measured on
 * the Q1 job: 0.36 s of CPU on one thread, of which the engine's 1,023 positions
 * take 0.05 s (it was 0.5 s before the pool started early and the threads' start
 * moved into WebAssembly).
 */
const POOL_START_SECONDS = 0.3;

/**
 * The runner's CPU besides the engine's traceRange and the store's inserts (the
 * forward passes, summarizing and packing shards, merging pattern peaks, the
 * summaries written when a run finishes, progress), as a share of the engine's:
 * measured on the example sweep with store schema 3, where the calibrated engine
 * and writes came to 14 s of CPU and the run took 16.1 s (user + sys, 0.5 s of
 * it starting the pool). Schema 2 took 0.4 of the engine's, schema 1 0.5.
 */
const RUNNER_OVERHEAD = 0.12;

interface RunProgress {
  readonly run: PlannedRun;
  readonly stored: number;
  readonly done: boolean;
}

/** Plans `spec`: reads its inputs and the database (read-only), measures the engine on the real model, writes nothing. */
export function planJob(spec: JobSpec, options: PlanOptions): JobPlan {
  const { runs, models } = expandRuns(spec, options.log);
  const database = readDatabase(options.database);
  const progress: RunProgress[] = runs.map((run) => {
    const row = database.stored.get(run.runId);
    return { run, stored: row?.positions_done ?? 0, done: row?.status === 'done' };
  });
  const totalPositions = runs.reduce((sum, run) => sum + run.positions, 0);
  const storedPositions = progress.reduce((sum, p) => sum + (p.done ? p.run.positions : p.stored), 0);
  const disk = diskPlan(spec, progress, database, totalPositions);
  const time = timePlan(spec, models, progress.filter((p) => !p.done), disk.toWriteBytes, options);
  const dmaxes = [...new Set(runs.map((run) => run.dmax))];
  return {
    name: spec.name,
    database: options.database,
    runs: { total: runs.length, done: progress.filter((p) => p.done).length, partial: progress.filter((p) => !p.done && p.stored > 0).length },
    positions: { total: totalPositions, stored: storedPositions, toCompute: totalPositions - storedPositions },
    byDmax: dmaxes.map((dmax) => {
      const these = runs.filter((run) => run.dmax === dmax);
      return { dmax, runs: these.length, positions: these.reduce((sum, run) => sum + run.positions, 0) };
    }),
    taus: spec.tau.length,
    disk,
    time,
    memory: memoryNeeded({
      runs: runs.map((run) => ({ positions: run.positions, burnIn: run.data.burnIn ?? 0, dmax: run.dmax, hidden: run.model.hidden })),
      taus: spec.tau.length,
      threads: options.threads,
      shardSize: defaultShardSize(totalPositions, options.threads, Math.max(0, ...dmaxes)),
    }),
  };
}

/** What the database holds already: its runs by id, its size, and (once a run is finished) its size against the store's model of it. */
interface StoredRuns {
  readonly stored: ReadonlyMap<string, RunRow>;
  readonly measured: { readonly bytes: number; readonly modelled: number } | null;
  readonly fileBytes: number;
}

/** Reads the database read-only, if it exists (a job not started has none). */
function readDatabase(path: string): StoredRuns {
  if (!existsSync(path)) return { stored: new Map(), measured: null, fileBytes: 0 };
  const db = openDatabase(path, { readonly: true });
  try {
    const all = listRuns(db);
    const fileBytes = databaseUsedBytes(db);
    const finished = all.filter((row) => row.status === 'done');
    let measured: StoredRuns['measured'] = null;
    if (finished.length > 0) {
      const modelled = modelledBytes(all);
      if (modelled > 0) measured = { bytes: fileBytes, modelled };
    }
    return { stored: new Map(all.map((row) => [row.run_id, row])), measured, fileBytes };
  } finally {
    db.close();
  }
}

/** The whole database's content as the store's model counts it, to compare with its real size. */
function modelledBytes(all: readonly RunRow[]): number {
  return all.reduce(
    (sum, row) =>
      sum +
      estimateStoreBytes({
        positions: row.positions_done,
        taus: row.taus.length,
        dmax: row.dmax,
        burnIn: row.burn_in,
        runs: row.positions_done > 0 ? 1 : 0,
        depthCurves: row.depth_curves === 1,
        hidden: row.hidden,
        keep: row.keep,
      }),
    0,
  );
}

/** The job's bytes and those still to write: the store's model, scaled to the database's measured bytes when it has finished runs. */
function diskPlan(spec: JobSpec, progress: readonly RunProgress[], database: StoredRuns, totalPositions: number): JobPlan['disk'] {
  const { measured } = database;
  const runBytes = (run: PlannedRun, positions: number): number =>
    estimateStoreBytes({ positions, taus: spec.tau.length, dmax: run.dmax, runs: 1, depthCurves: spec.depthCurves === true, hidden: run.model.hidden, keep: spec.keep, burnIn: run.data.burnIn });
  const scale = measured ? measured.bytes / measured.modelled : 1;
  const jobBytes = scale * progress.reduce((sum, p) => sum + runBytes(p.run, p.run.positions), 0);
  const toWriteBytes = scale * progress.reduce((sum, p) => sum + (p.done ? 0 : runBytes(p.run, p.run.positions - p.stored)), 0);
  return {
    jobBytes,
    toWriteBytes,
    bytesPerPosition: totalPositions > 0 ? jobBytes / totalPositions : 0,
    source: measured ? 'database' : 'model',
    scale: measured ? scale : null,
    databaseBytes: database.fileBytes,
  };
}

/** The time the pending runs take: the engine measured on the real model and a window of the job, the store's writes, the cores the job gets. */
function timePlan(spec: JobSpec, models: readonly Model[], pending: readonly RunProgress[], toWriteBytes: number, options: PlanOptions): JobPlan['time'] {
  const { engine, computeSeconds, writeSecondsPerByte } = pending.length > 0 ? measureCosts(spec, models, pending, options) : { engine: null, computeSeconds: 0, writeSecondsPerByte: null };
  const writeSeconds = writeSecondsPerByte === null ? 0 : toWriteBytes * writeSecondsPerByte;
  const threads = options.threads;
  const cores = availableParallelism();
  // CPU work: the workers' computing, the main thread's writes, and starting the pool.
  const overheadSeconds = RUNNER_OVERHEAD * computeSeconds;
  const cpuWork = pending.length === 0 ? 0 : computeSeconds + writeSeconds + overheadSeconds + POOL_START_SECONDS;
  // Cores the job gets. On an idle machine, one per thread (the main thread writes beside the
  // workers). On a shared one the calibration thread got less than a core: Linux shares CPU between
  // process groups (autogroup), not threads, so the job as a whole gets about that share too.
  const share = engine?.cpuShare ?? 1;
  const busy = threads + (writeSeconds > 0 ? writeSeconds / Math.max(cpuWork, 1e-9) : 0);
  const coresGot = share < 0.95 ? share : Math.min(busy, cores);
  return {
    seconds: pending.length === 0 ? 0 : Math.max(cpuWork / coresGot, writeSeconds),
    threads,
    cores: pending.length === 0 ? 0 : coresGot,
    computeSeconds,
    overheadSeconds,
    writeSeconds,
    engine,
    writeSecondsPerMB: writeSecondsPerByte === null ? null : writeSecondsPerByte * 1e6,
  };
}

/** Measures the engine (on the first pending run's model and window, at the deepest Dmax) and the store's writes; the pending runs' compute seconds from them. */
function measureCosts(
  spec: JobSpec,
  models: readonly Model[],
  pending: readonly RunProgress[],
  options: PlanOptions,
): { engine: EngineCost; computeSeconds: number; writeSecondsPerByte: number } {
  const first = pending[0].run;
  const model = models[first.modelIndex];
  const deepest = Math.max(...pending.map((p) => p.run.dmax));
  // The calibration reads at most Dmax + 99 and 4,096 bytes of the window: a long window is not read whole.
  const window = loadDataWindow(first.data.path, first.data.offset, Math.min(first.data.length, deepest + 4_200));
  const engine = options.engineCost ?? calibrateEngine(model, window.bytes, spec.tau, deepest, options.calibrationSeconds ?? 1);
  let computeSeconds = 0;
  for (const { run, stored: done } of pending) {
    // A partly done run: its missing positions cost about their share of the run.
    const share = (run.positions - done) / run.positions;
    const H = run.model.hidden;
    const hiddenScale = (H * H) / (model.hidden * model.hidden);
    // A warm window's positions reach further back (t + B), and its B burn-in bytes cost a forward
    // step each (measured: about 4 chain steps; a burn-in may be far longer than its window).
    const burnIn = run.data.burnIn ?? 0;
    const steps = chainSteps(run.positions + burnIn, run.dmax) - chainSteps(burnIn, run.dmax);
    computeSeconds += share * (run.positions * engine.base + (steps * engine.perDepth + burnIn * engine.perByte) * hiddenScale);
  }
  return { engine, computeSeconds, writeSecondsPerByte: calibrateStoreWrites() };
}
