/**
 * The steps every way of computing a job shares (`run` and `resume`, `serve`,
 * a queue `worker`, `plan`): expand the job, open and lock its store, record it.
 */
import { expandJob, type ExpandedJob, type JobSpec, type PlannedRun } from '../job/index.js';
import type { Model } from '../engine/index.js';
import { closeDatabase, openDatabase, recordJob, type Db } from '../store/index.js';
import { TOOL_VERSION } from '../version.js';
import { lockStore, type LockOptions } from './lock.js';

export { lockStore, type LockOptions };

/** A job expanded into its runs, with the models they read. */
export interface JobRuns {
  readonly expanded: ExpandedJob;
  readonly runs: readonly PlannedRun[];
  readonly models: readonly Model[];
}

/** Expands a job (reading and checking its inputs): its runs and their models. */
export function expandRuns(spec: JobSpec, log: (line: string) => void): JobRuns {
  const expanded = expandJob(spec, log);
  return { expanded, runs: expanded.runs, models: expanded.models.map((loaded) => loaded.model) };
}

/** A store open and locked for writing: released and closed together. */
export interface LockedStore {
  readonly db: Db;
  readonly path: string;
  /** Gives the lock back (idempotent); between two statements, as events run. */
  readonly release: () => void;
}

/**
 * Opens the store at `path` and locks it (see lockStore); `opened` runs in
 * between (`run` remembers the database there, even when the lock is refused).
 * The store is closed again if it cannot be locked.
 */
export async function openLockedStore(path: string, options: LockOptions & { readonly opened?: () => void }): Promise<LockedStore> {
  const db = openDatabase(path);
  try {
    options.opened?.();
    const release = await lockStore(db, path, options);
    return { db, path, release };
  } catch (error) {
    closeDatabase(db);
    throw error;
  }
}

/** Records a job and its runs in the store (what it is, where it came from); returns its id. */
export function recordJobRuns(db: Db, spec: JobSpec, job: JobRuns, source: string | null): number {
  return recordJob(db, { name: spec.name, sha256: job.expanded.sha256, source, specJson: JSON.stringify({ ...spec, db: undefined }) }, job.runs, TOOL_VERSION);
}
