import { patternPeaks, type Model } from '../engine/index.js';
import type { PlannedRun } from '../job/expand.js';
import { InputError } from '../errors.js';
import { rollUp, rollUpIfDue, RunWriter, type Db, type ShardResult } from '../store/index.js';
import { FREQUENCY_TAUS } from '../page.js';
import { unpackShard } from './codec.js';
import { defaultShardSize, planShards, type ShardRange } from './plan.js';
import type { SharedWindow } from './forwardOnce.js';
import { WindowCache } from './windows.js';
import { isSegmented, SegmentWalk, segmentsOf, segmentSize } from './segments.js';
import { ShardPool, sharedModel, TASKS_PER_THREAD } from './pool.js';
import type { SharedModel, ShardTask, TracedShard } from './worker.js';
import { workUnits } from './work.js';

/** What the orchestrator reports while it works (see progress.ts). */
export interface RunEvents {
  /** Before any work: positions in the whole job, and how many are already committed; the same in work units (work.ts). */
  jobPlanned(total: number, alreadyDone: number, work: { readonly total: number; readonly done: number }): void;
  runStarted(run: PlannedRun, index: number, done: number): void;
  /** Positions [start, start + positions) of `run` are committed. */
  shardCommitted(run: PlannedRun, positions: number, start: number): void;
  runFinished(run: PlannedRun, index: number): void;
}

export interface ExecuteOptions {
  readonly threads: number;
  /** Positions per shard; default from the window size and thread count. */
  readonly shardSize?: number;
  /** Set to stop: shards in flight are committed, nothing new starts. */
  readonly stopSignal: AbortSignal;
  readonly events: RunEvents;
  /** Worker threads started beforehand (the caller destroys them); by default a pool of `threads` is made and destroyed here. */
  readonly pool?: ShardPool;
  /** The runs' windows on `pool`, from startWindows: their first forward pass began before the store was opened. */
  readonly windows?: WindowCache;
  /** Positions per segment of a long window (segments.ts); default segmentSize(): SPARSETRACE_SEGMENT_SIZE, else 32,768. */
  readonly segmentSize?: number;
}

export interface ExecuteResult {
  readonly runsDone: number;
  /** Runs that were already done in the store before this call. */
  readonly runsAlreadyDone: number;
  readonly runsTotal: number;
  readonly stopped: boolean;
  /** The largest window or segment this call allocated in shared memory (bytes and forward states), in bytes: bounded by the segment size, whatever the windows' length. */
  readonly largestWindowBytes: number;
  /** The most shared memory one long window's segments took (segments.ts: their buffers are reused), in bytes; 0 when no window was segmented. */
  readonly segmentBytes: number;
}

/** A run ready for its shards: window bytes and forward states in shared memory (a long window's: per segment). */
interface PreparedRun {
  readonly run: PlannedRun;
  readonly index: number;
  readonly writer: RunWriter;
  readonly shards: readonly ShardRange[];
  readonly thresholds: Float32Array;
  /** Shards not yet committed; the run is finished when this reaches 0. */
  pending: number;
}

/** What is left of a run, from the store: its shards to compute (none when done). */
interface RemainingRun {
  readonly run: PlannedRun;
  readonly writer: RunWriter;
  readonly shards: readonly ShardRange[];
  /** Positions committed. */
  readonly done: number;
  readonly finished: boolean;
}

/**
 * Computes every position of `runs` that the store does not hold yet. Shards and
 * forward passes run on a ShardPool whose workers read the models' weights and
 * the windows from SharedArrayBuffers; each shard comes back as one transferred
 * buffer and is committed in its own transaction; a run is finished (summaries,
 * status `done`) once all its shards are in. The store must be locked by the caller.
 */
export async function executeRuns(
  db: Db,
  models: readonly Model[],
  runs: readonly PlannedRun[],
  options: ExecuteOptions,
): Promise<ExecuteResult> {
  const threads = options.pool?.threads ?? options.threads;
  const remaining = remainingRuns(db, models, runs, options.shardSize, threads);
  reportPlan(options.events, runs, remaining);
  const runsAlreadyDone = remaining.filter((left) => left.finished).length;
  if (runsAlreadyDone === runs.length) {
    // A run killed after its last run finished left those runs out of the rollups.
    db.transaction(() => rollUp(db)).immediate();
    return { runsDone: runs.length, runsAlreadyDone, runsTotal: runs.length, stopped: false, largestWindowBytes: 0, segmentBytes: 0 };
  }
  const pool = options.pool ?? new ShardPool(threads);
  const schedule = new ShardSchedule(db, models, runs, remaining, pool, options, runsAlreadyDone);
  let stopping: Promise<void> = Promise.resolve();
  try {
    try {
      await schedule.run();
    } finally {
      await schedule.settled();
      // A pool made here stops while the rollups below are written (a sweep's fixed cost, at any thread count).
      if (options.pool === undefined) stopping = pool.destroy();
    }
    if (schedule.failure() !== undefined) throw schedule.failure();
    // The runs finished since the last batch go into their jobs' rollups now.
    db.transaction(() => rollUp(db)).immediate();
  } finally {
    await stopping;
  }
  return { runsDone: schedule.runsDone, runsAlreadyDone, runsTotal: runs.length, stopped: schedule.runsDone < runs.length, largestWindowBytes: schedule.largestWindowBytes(), segmentBytes: schedule.segmentBytes };
}

/** What is left of each run, from the store, cut into shards. */
function remainingRuns(db: Db, models: readonly Model[], runs: readonly PlannedRun[], shardSize: number | undefined, threads: number): RemainingRun[] {
  const states = runs.map((run) => {
    const model = models[run.modelIndex];
    const writer = new RunWriter(db, {
      runId: run.runId,
      hidden: model.hidden,
      thresholdCount: run.taus.length,
      dmax: run.dmax,
      peaksFromFactors: (factors) => patternPeaks(model, factors),
    });
    return { run, writer, state: writer.resumeState() };
  });
  // Each run's shard size follows from the positions left from it to the end of the job:
  // shards shrink towards the end, so the threads finish together instead of one
  // waiting on another's last big shard.
  const leftFrom = new Array<number>(states.length + 1).fill(0);
  for (let k = states.length - 1; k >= 0; k--) {
    const { run, state } = states[k];
    leftFrom[k] = leftFrom[k + 1] + (state.status === 'done' ? 0 : run.positions - state.done);
  }
  return states.map(({ run, writer, state }, k) =>
    state.status === 'done'
      ? { run, writer, shards: [] as ShardRange[], done: run.positions, finished: true }
      : {
          run,
          writer,
          shards: planShards(run.positions, state.committed, shardSize ?? defaultShardSize(leftFrom[k], threads, run.dmax)),
          done: state.done,
          finished: false,
        },
  );
}

/** Before any work: the job's positions and work units, and how many are committed already. */
function reportPlan(events: RunEvents, runs: readonly PlannedRun[], remaining: readonly RemainingRun[]): void {
  const total = runs.reduce((sum, run) => sum + run.positions, 0);
  const totalWork = runs.reduce((sum, run) => sum + workUnits(0, run.positions, run.dmax, run.data.burnIn), 0);
  const workLeft = remaining.reduce((sum, left) => sum + left.shards.reduce((inRun, shard) => inRun + workUnits(shard.start, shard.count, left.run.dmax, left.run.data.burnIn), 0), 0);
  events.jobPlanned(total, remaining.reduce((sum, left) => sum + left.done, 0), { total: totalWork, done: totalWork - workLeft });
}

/**
 * The runs' shards on the pool, in order: at most TASKS_PER_THREAD per thread in flight, the
 * next runs' forward passes prefetched, each shard committed as it comes back
 * and a run finished with its last shard. Nothing new starts once stopped or
 * failed; settled() waits for the shards in flight.
 */
class ShardSchedule {
  runsDone: number;
  private readonly inFlight = new Set<Promise<void>>();
  private shardFailure: unknown;
  private readonly maxInFlight: number;
  private readonly ahead: number;
  private readonly windows: WindowCache;
  private readonly shared: SharedModel[];
  private readonly segmentSize: number;
  private largestSegment = 0;
  segmentBytes = 0;

  constructor(
    private readonly db: Db,
    private readonly models: readonly Model[],
    runs: readonly PlannedRun[],
    private readonly remaining: readonly RemainingRun[],
    private readonly pool: ShardPool,
    private readonly options: ExecuteOptions,
    runsAlreadyDone: number,
  ) {
    this.runsDone = runsAlreadyDone;
    this.maxInFlight = TASKS_PER_THREAD * pool.threads;
    this.shared = models.map(sharedModel);
    this.segmentSize = options.segmentSize ?? segmentSize();
    this.ahead = windowsAhead(runs, models, pool.threads, this.segmentSize);
    this.windows = options.windows ?? windowCache(pool, models, runs, this.segmentSize);
  }

  /** The largest window or segment allocated in shared memory, in bytes. */
  largestWindowBytes(): number {
    return Math.max(this.windows.largest, this.largestSegment);
  }

  /** A failed forward pass says more than the shards of its window that fail after it. */
  failure(): unknown {
    return this.windows.failure ?? this.shardFailure;
  }

  /** Resolves when no shard is in flight. */
  async settled(): Promise<void> {
    await Promise.all(this.inFlight);
  }

  async run(): Promise<void> {
    const { remaining, options } = this;
    const first = remaining.find((left) => left.shards.length > 0);
    if (first !== undefined && !isSegmented(first.run, this.segmentSize)) this.windows.get(first.run); // the first forward pass goes first
    for (let index = 0; index < remaining.length; index++) {
      const left = remaining[index];
      if (left.finished) continue;
      if (this.stopping()) break;
      options.events.runStarted(left.run, index, left.done);
      if (left.shards.length === 0) {
        // All shards were committed before an interruption: only the summaries are left.
        this.finish(left.run, index, left.writer);
        continue;
      }
      const prepared = this.prepare(left, index);
      if (isSegmented(left.run, this.segmentSize)) {
        await this.submitSegments(prepared);
        continue;
      }
      const window = this.windows.get(left.run);
      // Held while its shards are handed out, and by each shard until it is committed: its buffers are reused after (windows.ts).
      this.windows.hold(window);
      try {
        for (const next of this.nextToCompute(index, this.ahead)) this.windows.prefetch(next);
        for (const shard of prepared.shards) {
          while (this.inFlight.size >= this.maxInFlight) await Promise.race(this.inFlight);
          if (this.stopping()) break;
          this.windows.hold(window);
          void this.submit(prepared, shard, window, prepared.run.runId).then(() => this.windows.release(window));
        }
      } finally {
        this.windows.release(window);
      }
    }
    await this.settled();
  }

  /**
   * A long window's shards, segment by segment (segments.ts): a segment's
   * buffers are made, and its forward pass begun, once the segment before has
   * its forward pass (while that segment's shards are traced); each segment's
   * buffers are held by its shards only, so they go once those are committed.
   */
  private async submitSegments(prepared: PreparedRun): Promise<void> {
    const walk = new SegmentWalk(prepared.run, this.shared[prepared.run.modelIndex], (task) => this.pool.forward(task), this.segmentSize);
    try {
      walk.verify();
      for (const segment of segmentsOf(prepared.shards, this.segmentSize)) {
        if (this.stopping()) break;
        const window = await walk.window(segment);
        let left = segment.shards.length;
        // The segment's buffers are reused once its shards are committed (not after a failure: nothing new starts then).
        const committed = (): void => {
          if (--left === 0) walk.release(window);
        };
        for (const shard of segment.shards) {
          while (this.inFlight.size >= this.maxInFlight) await Promise.race(this.inFlight);
          if (this.stopping()) break;
          void this.submit(prepared, shard, window, `${prepared.run.runId}@${segment.index}`, committed);
        }
      }
    } catch (error) {
      this.shardFailure ??= error;
    } finally {
      this.largestSegment = Math.max(this.largestSegment, walk.largest);
      this.segmentBytes = Math.max(this.segmentBytes, walk.allocated);
    }
  }

  private stopping(): boolean {
    return this.options.stopSignal.aborted || this.failure() !== undefined;
  }

  /** A run ready for its shards: its thresholds. */
  private prepare(left: RemainingRun, index: number): PreparedRun {
    return {
      run: left.run,
      index,
      writer: left.writer,
      shards: left.shards,
      thresholds: Float32Array.from(left.run.taus, (tau) => Math.fround(tau)),
      pending: left.shards.length,
    };
  }

  /** The next `count` runs after `after` that have shards to compute in one window (long windows are not prefetched: they go by segments). */
  private nextToCompute(after: number, count: number): PlannedRun[] {
    const { remaining } = this;
    const next: PlannedRun[] = [];
    for (let index = after + 1; index < remaining.length && next.length < count; index++) {
      if (remaining[index].shards.length > 0 && !isSegmented(remaining[index].run, this.segmentSize)) next.push(remaining[index].run);
    }
    return next;
  }

  /** Sends one shard to the pool; it is committed when it comes back (the first failure is kept, and stops the schedule). Resolves when it is committed or failed. */
  private submit(prepared: PreparedRun, shard: ShardRange, window: SharedWindow, windowKey: string, committed?: () => void): Promise<void> {
    const task: ShardTask = {
      model: this.shared[prepared.run.modelIndex],
      windowKey,
      ...window,
      thresholds: prepared.thresholds,
      dmax: prepared.run.dmax,
      rule: prepared.run.rule,
      burnIn: prepared.run.data.burnIn ?? 0,
      depthCurves: prepared.writer.depthCurves,
      start: shard.start,
      count: shard.count,
    };
    const settled: Promise<void> = this.pool
      .trace(task)
      .then((traced) => {
        try {
          this.commit(prepared, shard, traced);
        } finally {
          // The shard's views are done with (the writer keeps copies of what it keeps): its slot takes the next.
          this.pool.release(traced);
        }
        committed?.();
      })
      .catch((error: unknown) => {
        this.shardFailure ??= error;
      })
      .finally(() => this.inFlight.delete(settled));
    this.inFlight.add(settled);
    return settled;
  }

  /** Commits a computed shard in its own transaction; the run's last one finishes the run. */
  private commit(prepared: PreparedRun, shard: ShardRange, { packed, bytes, seconds }: TracedShard): void {
    const shape = {
      count: shard.count,
      thresholds: prepared.thresholds.length,
      dmax: prepared.run.dmax,
      hidden: this.models[prepared.run.modelIndex].hidden,
      depthCurves: prepared.writer.depthCurves,
      burnIn: prepared.run.data.burnIn ?? 0,
      frequencies: FREQUENCY_TAUS.length,
    };
    // The worker thread's CPU time: a wall-clock time measured here would also count the
    // time the task queued behind the others its thread holds (TASKS_PER_THREAD).
    const result = unpackShard(packed, shard.start, shape, seconds, bytes);
    const problem = nonFiniteResult(result, prepared.run);
    if (problem !== undefined) throw problem;
    // The run's last shard finishes it in the same transaction (writer.finish() below then only rolls up).
    prepared.writer.commit(result, prepared.pending === 1);
    this.options.events.shardCommitted(prepared.run, shard.count, shard.start);
    prepared.pending--;
    if (prepared.pending === 0) this.finish(prepared.run, prepared.index, prepared.writer);
  }

  private finish(run: PlannedRun, index: number, writer: RunWriter): void {
    writer.finish();
    rollUpIfDue(this.db);
    this.runsDone++;
    this.options.events.runFinished(run, index);
  }
}

/**
 * The spec's arithmetic leaves the floating-point range on a model whose weights
 * are too large: a target's probability underflows to 0 in double (surprisal
 * +∞), a float32 sum overflows to ∞ and then to NaN. Such values can be neither
 * summed exactly nor stored, so the run stops at the first one with an error
 * naming the model, the position and the reason; shards committed before it stay.
 */
export function nonFiniteResult(shard: ShardResult, run: PlannedRun): InputError | undefined {
  const { range, summary } = shard;
  const refuse = (p: number, what: string, why: string): InputError =>
    new InputError(
      `model ${run.model.path}: at t = ${range.start + p} of ${run.data.path} (bytes ${run.data.offset}+${run.data.length}) ${what}, because ${why}; ` +
        'its weights are too large for the float32 and double arithmetic the spec prescribes, so sparsetrace cannot analyse this model',
    );
  for (let p = 0; p < range.count; p++) {
    const surprisal = range.surprisal[p];
    if (surprisal === Infinity) return refuse(p, 'the surprisal is +∞', "the target's probability underflows to 0 in double precision");
    if (!Number.isFinite(surprisal)) return refuse(p, `the surprisal is ${surprisal}`, 'the forward pass overflows float32');
    const mass = summary.massTotal[p];
    if (!Number.isFinite(mass)) return refuse(p, `the depth mass is ${mass}`, 'the backward trace overflows float32');
  }
  return undefined;
}

/**
 * The runs' windows on `pool`, with the first run's forward pass begun: a caller
 * that has a pool makes them as soon as the job is expanded, so that pass runs
 * while it opens the store, and hands them to executeRuns (options.windows).
 * The store is not read yet, so the first run's pass begins even if the store
 * holds that run already (a resumed sweep): a few milliseconds on one thread.
 */
export function startWindows(pool: ShardPool, models: readonly Model[], runs: readonly PlannedRun[], segment = segmentSize()): WindowCache {
  const windows = windowCache(pool, models, runs, segment);
  if (runs.length > 0 && !isSegmented(runs[0], segment)) windows.get(runs[0]);
  return windows;
}

function windowCache(pool: ShardPool, models: readonly Model[], runs: readonly PlannedRun[], segment: number): WindowCache {
  return new WindowCache(models.map(sharedModel), (task) => pool.forward(task), windowsAhead(runs, models, pool.threads, segment) + 1);
}

/** Forward states prefetched at most (bytes): windows ahead stay within it. */
const PREFETCH_BYTES = 256 * 1024 * 1024;

/**
 * How many windows' forward passes run ahead of the shards: one per thread, so
 * a thread that finishes a shard finds the next run's window ready rather than
 * waiting for its forward pass (with one ahead, two threads ending together
 * took turns: one idled 4–16 ms about once a run); fewer for windows so large
 * that their states would pass PREFETCH_BYTES, and at least one.
 */
function windowsAhead(runs: readonly PlannedRun[], models: readonly Model[], threads: number, segment: number): number {
  const largest = runs.reduce((most, run) => (isSegmented(run, segment) ? most : Math.max(most, 4 * run.data.length * models[run.modelIndex].hidden)), 1);
  return Math.max(1, Math.min(threads, Math.floor(PREFETCH_BYTES / largest)));
}
