/** Where each job and run of a database stands, as `status` and `jobs` show it. */
import { workUnits } from '../runner/work.js';
import {
  liveLockHolder,
  listJobs,
  listRuns,
  recordedLockHolder,
  shardsCommittedSince,
  unfinishedShards,
  type Db,
  type JobRow,
  type LockHolder,
  type RunRow,
} from '../store/index.js';

export type RunState = 'done' | 'running' | 'interrupted' | 'pending';

/** A run's state: done; running (some progress, and the live writer works on its job); interrupted (some progress, no writer); pending. */
export function runState(run: RunRow, live: boolean): RunState {
  if (run.status === 'done') return 'done';
  if (run.positions_done === 0) return 'pending';
  return live ? 'running' : 'interrupted';
}

/**
 * A job's state: done; running while the live writer works on it (whatever its
 * runs' states: a sweep of one-shard runs almost never has one half done);
 * otherwise interrupted (some progress) or pending.
 */
export function jobState(states: readonly RunState[], live: boolean): RunState {
  if (states.every((state) => state === 'done')) return 'done';
  if (live) return 'running';
  return states.some((state) => state !== 'pending') ? 'interrupted' : 'pending';
}

export interface JobProgress {
  readonly job: JobRow;
  readonly runs: readonly RunRow[];
  readonly states: readonly RunState[];
  readonly state: RunState;
  readonly positions: number;
  readonly positionsDone: number;
  /** Whether the live writer works on this job. */
  readonly live: boolean;
}

/** Who the writer_lock table names: a live process, one that is gone (its job was interrupted), or nobody. */
export type WriterState =
  | { readonly kind: 'live'; readonly holder: LockHolder }
  | { readonly kind: 'gone'; readonly holder: LockHolder }
  | { readonly kind: 'none' };

/** Every job (or only `onlyJobId`), oldest started first, with its runs and their states; and the writer. */
export function jobProgress(db: Db, onlyJobId?: number): { writer: WriterState; jobs: JobProgress[]; lastUnfinishedJobId: number | undefined } {
  const live = liveLockHolder(db);
  const recorded = live ?? recordedLockHolder(db);
  const writer: WriterState = live !== undefined ? { kind: 'live', holder: live } : recorded !== undefined ? { kind: 'gone', holder: recorded } : { kind: 'none' };
  const all = listJobs(db);
  const jobs = all.flatMap((job, k) => {
    if (onlyJobId !== undefined && job.job_id !== onlyJobId) return [];
    const runs = listRuns(db, job.job_id);
    // A writer works on the job it started (or resumed) last: the most recently started one, while it is unfinished.
    const isLive = live !== undefined && k === all.length - 1 && runs.some((run) => run.status !== 'done');
    const states = runs.map((run) => runState(run, isLive));
    return [
      {
        job,
        runs,
        states,
        state: jobState(states, isLive),
        positions: runs.reduce((sum, run) => sum + run.positions, 0),
        positionsDone: runs.reduce((sum, run) => sum + run.positions_done, 0),
        live: isLive,
      },
    ];
  });
  // The job `resume` without --job continues.
  const lastUnfinishedJobId = all.filter((job) => job.runs_done < job.runs).at(-1)?.job_id;
  return { writer, jobs, lastUnfinishedJobId };
}

/** Rates are measured over at most this long a window (and never before the writer took the lock). */
export const RATE_WINDOW_SECONDS = 300;

/** How fast a live job goes, and when it will be done. */
export interface JobRate {
  /** Positions committed per second over the window. */
  readonly positionsPerSecond: number;
  /** Work units (work.ts: positions × depth) per second over the window. */
  readonly workPerSecond: number;
  /** The window: from max(the writer's start, now − RATE_WINDOW_SECONDS) to now. */
  readonly windowSeconds: number;
  readonly workTotal: number;
  readonly workDone: number;
  /** Work left over the work rate; null while no shard has been committed in the window. */
  readonly etaSeconds: number | null;
}

/**
 * A job's rate and ETA, from the store alone: the shards of its runs committed
 * since max(the writer's start, now − RATE_WINDOW_SECONDS), in positions and in
 * work units, over that window's length; the ETA is the work left (every
 * unfinished run's positions not yet in a committed shard) over the work rate.
 * It holds for jobs of any shape: a one-shard run counts when its shard commits.
 */
export function jobRate(db: Db, progress: JobProgress, writer: LockHolder, nowMs = Date.now()): JobRate {
  const writerStart = Date.parse(writer.started_at);
  const windowStart = Math.max(Number.isFinite(writerStart) ? writerStart : -Infinity, nowMs - RATE_WINDOW_SECONDS * 1000);
  const windowSeconds = Math.max(1e-3, (nowMs - windowStart) / 1000);
  const recent = shardsCommittedSince(db, progress.job.job_id, new Date(windowStart).toISOString());
  const positions = recent.reduce((sum, shard) => sum + shard.count, 0);
  const work = recent.reduce((sum, shard) => sum + workUnits(shard.start, shard.count, shard.dmax, shard.burn_in), 0);
  const workTotal = progress.runs.reduce((sum, run) => sum + workUnits(0, run.positions, run.dmax, run.burn_in), 0);
  const finished = progress.runs.reduce((sum, run) => sum + (run.status === 'done' ? workUnits(0, run.positions, run.dmax, run.burn_in) : 0), 0);
  const workDone = finished + unfinishedShards(db, progress.job.job_id).reduce((sum, shard) => sum + workUnits(shard.start, shard.count, shard.dmax, shard.burn_in), 0);
  const workPerSecond = work / windowSeconds;
  return {
    positionsPerSecond: positions / windowSeconds,
    workPerSecond,
    windowSeconds,
    workTotal,
    workDone,
    etaSeconds: workPerSecond > 0 ? Math.max(0, workTotal - workDone) / workPerSecond : null,
  };
}
