import { Piscina } from 'piscina';
import { availableParallelism } from 'node:os';
import { forwardStates, modelFloatCount, patternPeaks, type Model } from '../engine/index.js';
import { InputError } from '../errors.js';
import { loadDataWindow } from '../model/index.js';
import type { PlannedRun } from '../job/expand.js';
import { RunWriter, type Db } from '../store/index.js';
import { unpackShard } from './codec.js';
import { defaultShardSize, planShards, type ShardRange } from './plan.js';
import type { PoolData, ShardTask } from './worker.js';

/** What the orchestrator reports while it works (see progress.ts). */
export interface RunEvents {
  /** Before any work: positions in the whole job, and how many are already committed. */
  jobPlanned(total: number, alreadyDone: number): void;
  runStarted(run: PlannedRun, index: number, done: number): void;
  shardCommitted(run: PlannedRun, positions: number): void;
  runFinished(run: PlannedRun, index: number): void;
}

export interface ExecuteOptions {
  readonly threads: number;
  /** Positions per shard; default from the window size and thread count. */
  readonly shardSize?: number;
  /** Set to stop: shards in flight are committed, nothing new starts. */
  readonly stopSignal: AbortSignal;
  readonly events: RunEvents;
}

export interface ExecuteResult {
  readonly runsDone: number;
  /** Runs that were already done in the store before this call. */
  readonly runsAlreadyDone: number;
  readonly runsTotal: number;
  readonly stopped: boolean;
}

export function defaultThreads(): number {
  return availableParallelism();
}

/** A run ready for its shards: window bytes and forward states in shared memory. */
interface PreparedRun {
  readonly run: PlannedRun;
  readonly index: number;
  readonly writer: RunWriter;
  readonly shards: readonly ShardRange[];
  readonly bytes: SharedArrayBuffer;
  readonly states: SharedArrayBuffer;
  readonly thresholds: Float32Array;
  /** Shards not yet committed; the run is finished when this reaches 0. */
  pending: number;
}

function shareFloats(values: Float32Array): SharedArrayBuffer {
  const shared = new SharedArrayBuffer(values.byteLength);
  new Float32Array(shared).set(values);
  return shared;
}

/**
 * Computes every position of `runs` that the store does not hold yet. Shards run
 * on a piscina pool whose workers get the models' weights as SharedArrayBuffers
 * when the pool starts; each shard comes back as one transferred buffer and is
 * committed in its own transaction; a run is finished (pattern peaks, status
 * `done`) once all its shards are in. The store must be locked by the caller.
 */
export async function executeRuns(
  db: Db,
  models: readonly Model[],
  runs: readonly PlannedRun[],
  options: ExecuteOptions,
): Promise<ExecuteResult> {
  const { threads, stopSignal, events } = options;

  // What is left of each run, from the store.
  const remaining = runs.map((run) => {
    const model = models[run.modelIndex];
    const writer = new RunWriter(db, {
      runId: run.runId,
      hidden: model.hidden,
      thresholdCount: run.taus.length,
      dmax: run.dmax,
      peaksFromFactors: (factors) => patternPeaks(model, factors),
    });
    const state = writer.resumeState();
    if (state.status === 'done') return { run, writer, shards: [] as ShardRange[], done: run.positions, finished: true };
    const shardSize = options.shardSize ?? defaultShardSize(run.positions, threads);
    return { run, writer, shards: planShards(run.positions, state.committed, shardSize), done: state.done, finished: false };
  });
  const total = runs.reduce((sum, run) => sum + run.positions, 0);
  events.jobPlanned(total, remaining.reduce((sum, left) => sum + left.done, 0));
  const runsAlreadyDone = remaining.filter((left) => left.finished).length;
  if (runsAlreadyDone === runs.length) return { runsDone: runs.length, runsAlreadyDone, runsTotal: runs.length, stopped: false };

  const poolData: PoolData = {
    models: models.map((model) => {
      const weights = new SharedArrayBuffer(4 * modelFloatCount(model.hidden));
      const flat = new Float32Array(weights);
      let offset = 0;
      for (const block of [model.wx, model.wh, model.bh, model.wy, model.by]) {
        flat.set(block, offset);
        offset += block.length;
      }
      return { weights, hidden: model.hidden };
    }),
  };
  const pool = new Piscina<ShardTask, ArrayBuffer>({
    filename: new URL('./worker.js', import.meta.url).href,
    workerData: poolData,
    minThreads: threads,
    maxThreads: threads,
    idleTimeout: 60_000,
  });

  let runsDone = runsAlreadyDone;
  const inFlight = new Set<Promise<void>>();
  let failure: unknown;
  const maxInFlight = 2 * threads;

  const finish = (run: PlannedRun, index: number, writer: RunWriter): void => {
    writer.finish();
    runsDone++;
    events.runFinished(run, index);
  };
  let lastWindow: SharedWindow | undefined;

  try {
    for (let index = 0; index < remaining.length; index++) {
      const left = remaining[index];
      if (left.finished) continue;
      if (stopSignal.aborted || failure !== undefined) break;
      events.runStarted(left.run, index, left.done);
      if (left.shards.length === 0) {
        // All shards were committed before an interruption: only the summaries are left.
        finish(left.run, index, left.writer);
        continue;
      }
      const { prepared, window } = prepareRun(models, left.run, left.writer, index, left.shards, lastWindow);
      lastWindow = window;
      for (const shard of prepared.shards) {
        while (inFlight.size >= maxInFlight) await Promise.race(inFlight);
        if (stopSignal.aborted || failure !== undefined) break;
        const task: ShardTask = {
          modelIndex: prepared.run.modelIndex,
          windowKey: prepared.run.runId,
          bytes: prepared.bytes,
          states: prepared.states,
          thresholds: prepared.thresholds,
          dmax: prepared.run.dmax,
          depthCurves: prepared.writer.depthCurves,
          start: shard.start,
          count: shard.count,
        };
        const taskStarted = performance.now();
        const settled: Promise<void> = pool
          .run(task)
          .then((packed) => {
            const shape = {
              count: shard.count,
              thresholds: prepared.thresholds.length,
              dmax: prepared.run.dmax,
              hidden: models[prepared.run.modelIndex].hidden,
              depthCurves: prepared.writer.depthCurves,
            };
            prepared.writer.commit(unpackShard(packed, shard.start, shape, (performance.now() - taskStarted) / 1000));
            events.shardCommitted(prepared.run, shard.count);
            prepared.pending--;
            if (prepared.pending === 0) finish(prepared.run, prepared.index, prepared.writer);
          })
          .catch((error: unknown) => {
            failure ??= error;
          })
          .finally(() => inFlight.delete(settled));
        inFlight.add(settled);
      }
    }
    await Promise.all(inFlight);
  } finally {
    await Promise.all(inFlight);
    await pool.destroy();
  }
  if (failure !== undefined) throw failure;
  return { runsDone, runsAlreadyDone, runsTotal: runs.length, stopped: runsDone < runs.length };
}

/** A window's bytes and forward states in shared memory; runs differing only in Dmax share them. */
interface SharedWindow {
  readonly key: string;
  readonly bytes: SharedArrayBuffer;
  readonly states: SharedArrayBuffer;
}

function prepareRun(
  models: readonly Model[],
  run: PlannedRun,
  writer: RunWriter,
  index: number,
  shards: readonly ShardRange[],
  previous: SharedWindow | undefined,
): { prepared: PreparedRun; window: SharedWindow } {
  const model = models[run.modelIndex];
  const key = `${run.modelIndex}:${run.data.sha256}`;
  let window = previous;
  if (window?.key !== key) {
    const data = loadDataWindow(run.data.path, run.data.offset, run.data.length);
    if (data.sha256 !== run.data.sha256) {
      throw new InputError(
        `data ${run.data.path}: the window at offset ${run.data.offset} changed since run ${run.runId} was planned (sha256 ${data.sha256}, expected ${run.data.sha256})`,
      );
    }
    const bytes = new SharedArrayBuffer(data.bytes.length);
    new Uint8Array(bytes).set(data.bytes);
    window = { key, bytes, states: shareFloats(forwardStates(model, data.bytes)) };
  }
  const prepared: PreparedRun = {
    run,
    index,
    writer,
    shards,
    bytes: window.bytes,
    states: window.states,
    thresholds: Float32Array.from(run.taus, (tau) => Math.fround(tau)),
    pending: shards.length,
  };
  return { prepared, window };
}
