import { InputError } from '../errors.js';
import type { Db } from './db.js';
import { jobsNamed, listJobs, listRuns, type JobHead, type RunRow } from './queries.js';

/**
 * What `--job` and `--run` name, for every command that takes them (report,
 * export, explain, status, runs, resume, rm): one place, so they all accept the
 * same things and refuse them with the same messages (InputError, exit 2).
 */

/** A job's "id name", as messages list them. */
const jobLabel = (job: JobHead): string => `${job.job_id} ${job.name}`;

/**
 * The job `wanted` names: its id (a number), else its name. A name several jobs
 * share is refused with their ids, as is a job the database does not hold (with
 * the jobs it does hold).
 */
export function findJob(db: Db, wanted: string, dbPath: string, flag = '--job'): JobHead {
  const trimmed = wanted.trim();
  const id = /^\d+$/.test(trimmed) ? Number(trimmed) : null;
  const candidates = jobsNamed(db, id, wanted);
  const byId = candidates.find((job) => job.job_id === id);
  if (byId !== undefined) return byId;
  const byName = candidates.filter((job) => job.name === wanted);
  if (byName.length === 1) return byName[0];
  if (byName.length > 1) {
    throw new InputError(`${flag} ${wanted}: ${byName.length} jobs in ${dbPath} have that name (${byName.map(jobLabel).join(', ')}); give the job id`);
  }
  throw new InputError(`${flag} ${wanted}: no job with that id or name in ${dbPath} (jobs: ${listJobs(db).map(jobLabel).join(', ') || 'none'})`);
}

/** The keys of the runs `wanted` name, each its id or a prefix of exactly one run id (messages as findRun's). */
export function findRunKeys(db: Db, wanted: readonly string[], dbPath: string, flag = '--run'): number[] {
  const exact = db.prepare(`SELECT run_key FROM runs WHERE run_id = ?`).pluck();
  const prefixed = db.prepare(`SELECT run_key FROM runs WHERE substr(run_id, 1, length(@id)) = @id LIMIT 2`).pluck();
  return wanted.map((id) => {
    const key = exact.get(id) as number | undefined;
    if (key !== undefined) return key;
    const matches = id === '' ? [] : (prefixed.all({ id }) as number[]);
    if (matches.length === 0) throw new InputError(`${flag} ${id}: no run with that id in ${dbPath} (see \`sparsetrace runs\`)`);
    if (matches.length > 1) {
      const count = db.prepare(`SELECT count(*) FROM runs WHERE substr(run_id, 1, length(@id)) = @id`).pluck().get({ id }) as number;
      throw new InputError(`${flag} ${id}: ${count} runs start with it; give more characters`);
    }
    return matches[0];
  });
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
