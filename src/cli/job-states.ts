/** Where each job and run of a database stands, as `status` and `jobs` show it. */
import { liveLockHolder, listJobs, listRuns, type Db, type JobRow, type LockHolder, type RunRow } from '../store/index.js';

export type RunState = 'done' | 'running' | 'interrupted' | 'pending';

/** A run's state: done, running (a live writer works on it), interrupted (some progress, no writer), pending. */
export function runState(run: RunRow, live: boolean): RunState {
  if (run.status === 'done') return 'done';
  if (run.positions_done === 0) return 'pending';
  return live ? 'running' : 'interrupted';
}

/** A job's state from its runs': done, running, interrupted (some progress, no writer), pending. */
export function jobState(states: readonly RunState[]): RunState {
  if (states.every((state) => state === 'done')) return 'done';
  if (states.includes('running')) return 'running';
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

/** Every job (or only `onlyJobId`), oldest started first, with its runs and their states; and the live writer, if any. */
export function jobProgress(db: Db, onlyJobId?: number): { writer: LockHolder | undefined; jobs: JobProgress[]; lastUnfinishedJobId: number | undefined } {
  const writer = liveLockHolder(db);
  const all = listJobs(db);
  const jobs = all.flatMap((job, k) => {
    if (onlyJobId !== undefined && job.job_id !== onlyJobId) return [];
    const runs = listRuns(db, job.job_id);
    // Only the most recently started job can be the live writer's.
    const live = writer !== undefined && k === all.length - 1 && runs.some((run) => run.status === 'running');
    const states = runs.map((run) => runState(run, live));
    return [
      {
        job,
        runs,
        states,
        state: jobState(states),
        positions: runs.reduce((sum, run) => sum + run.positions, 0),
        positionsDone: runs.reduce((sum, run) => sum + run.positions_done, 0),
        live,
      },
    ];
  });
  // The job `resume` without --job continues.
  const lastUnfinishedJobId = all.filter((job) => job.runs_done < job.runs).at(-1)?.job_id;
  return { writer, jobs, lastUnfinishedJobId };
}
