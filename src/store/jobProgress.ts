import type { Db } from './db.js';

/** A job's run as the queue coordinator sees it. */
export interface JobRunState {
  readonly run_id: string;
  readonly status: 'pending' | 'running' | 'done';
  readonly positions: number;
  readonly depth_curves: number;
  /** What the database keeps of it once done: a worker computes it so, and a segment must hold that. */
  readonly keep: 'full' | 'summaries';
}

/** Every run of a job, in the job's order, with its status: what is still missing. */
export function jobRunStates(db: Db, jobId: number): JobRunState[] {
  return db
    .prepare(
      `SELECT r.run_id, r.status, r.positions, r.depth_curves, r.keep FROM job_runs j JOIN runs r USING (run_key)
       WHERE j.job_id = ? ORDER BY j.run_order`,
    )
    .all(jobId) as JobRunState[];
}
