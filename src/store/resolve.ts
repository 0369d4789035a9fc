import { InputError } from '../errors.js';
import type { Db } from './db.js';
import { listJobs, listRuns, type JobRow, type RunRow } from './queries.js';

/**
 * What `--job` and `--run` name, for every command that takes them (report,
 * export, explain, status, runs, resume, rm): one place, so they all accept the
 * same things and refuse them with the same messages (InputError, exit 2).
 */

/** A job's "id name", as messages list them. */
const jobLabel = (job: JobRow): string => `${job.job_id} ${job.name}`;

/**
 * The job `wanted` names: its id (a number), else its name. A name several jobs
 * share is refused with their ids, as is a job the database does not hold (with
 * the jobs it does hold).
 */
export function findJob(db: Db, wanted: string, dbPath: string, flag = '--job'): JobRow {
  const jobs = listJobs(db);
  const trimmed = wanted.trim();
  if (/^\d+$/.test(trimmed)) {
    const byId = jobs.find((job) => job.job_id === Number(trimmed));
    if (byId !== undefined) return byId;
  }
  const byName = jobs.filter((job) => job.name === wanted);
  if (byName.length === 1) return byName[0];
  if (byName.length > 1) {
    throw new InputError(`${flag} ${wanted}: ${byName.length} jobs in ${dbPath} have that name (${byName.map(jobLabel).join(', ')}); give the job id`);
  }
  throw new InputError(`${flag} ${wanted}: no job with that id or name in ${dbPath} (jobs: ${jobs.map(jobLabel).join(', ') || 'none'})`);
}

/** The run `wanted` names: its id, or a prefix of exactly one run id. `every` is listRuns(db), when the caller has it. */
export function findRun(db: Db, wanted: string, dbPath: string, every: readonly RunRow[] = listRuns(db), flag = '--run'): RunRow {
  const exact = every.find((run) => run.run_id === wanted);
  if (exact !== undefined) return exact;
  const matches = wanted === '' ? [] : every.filter((run) => run.run_id.startsWith(wanted));
  if (matches.length === 0) throw new InputError(`${flag} ${wanted}: no run with that id in ${dbPath} (see \`sparsetrace runs\`)`);
  if (matches.length > 1) throw new InputError(`${flag} ${wanted}: ${matches.length} runs start with it; give more characters`);
  return matches[0];
}
