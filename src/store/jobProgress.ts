import type { Db } from './db.js';
import { perConnection } from './statements.js';

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

/** A committed shard of a job's run, for rates and ETAs in work units. */
export interface CommittedShard {
  readonly run_id: string;
  readonly start: number;
  readonly count: number;
  readonly dmax: number;
  /** The run's burn-in: its positions reach min(t + burn_in, Dmax) offsets. */
  readonly burn_in: number;
  readonly committed_at: string;
}

const progressStatements = perConnection((db: Db) => ({
  unfinished: db.prepare(
    `SELECT r.run_id, s.start, s.count, r.dmax, r.burn_in, s.committed_at
       FROM job_runs j JOIN runs r USING (run_key) JOIN shards s ON s.run_key = r.run_key
      WHERE j.job_id = ? AND r.status != 'done'`,
  ),
  since: db.prepare(
    `SELECT r.run_id, s.start, s.count, r.dmax, r.burn_in, s.committed_at
       FROM job_runs j JOIN runs r USING (run_key) JOIN shards s ON s.run_key = r.run_key
      WHERE j.job_id = ? AND s.committed_at >= ?`,
  ),
}));

/** The shards committed so far of a job's unfinished runs (a finished run's work is all done). */
export function unfinishedShards(db: Db, jobId: number): CommittedShard[] {
  return progressStatements(db).unfinished.all(jobId) as CommittedShard[];
}

/** The shards of a job's runs committed at or after `since` (an ISO time, as committed_at is written); shard rows stay after a run finishes. */
export function shardsCommittedSince(db: Db, jobId: number, since: string): CommittedShard[] {
  return progressStatements(db).since.all(jobId, since) as CommittedShard[];
}
