import type { JobSpec } from '../job/index.js';
import { findJob, jobCounts, latestJob, listJobs, openDatabase, type JobRow } from '../store/index.js';
import { databasePath } from './database.js';
import { log } from './output.js';
import type { ExecutionArgs } from './run-job.js';
import { runJob } from './run.js';

export interface ResumeArgs extends ExecutionArgs {
  readonly db?: string;
  /** This job (id or name) rather than the most recent unfinished one. */
  readonly job?: string;
}

/** `sparsetrace resume`: continues the most recent job that is not finished, or the one --job names. */
export async function resumeCommand(args: ResumeArgs): Promise<number> {
  const dbPath = databasePath(args.db);
  const db = openDatabase(dbPath, { readonly: true });
  let spec: JobSpec;
  let source: string | null;
  try {
    let job: JobRow | undefined;
    if (args.job !== undefined) {
      const named = findJob(db, args.job, dbPath);
      job = { ...named, ...jobCounts(db, named.job_id) };
      if (job.runs_done === job.runs) {
        log(`nothing to resume in ${dbPath}: job ${job.job_id} (${job.name}) is done`);
        return 0;
      }
    } else {
      const unfinished = listJobs(db).filter((candidate) => candidate.runs_done < candidate.runs);
      job = unfinished[unfinished.length - 1];
      if (job === undefined) {
        const last = latestJob(db);
        log(last ? `nothing to resume in ${dbPath}: every job is done (last: ${last.name})` : `nothing to resume in ${dbPath}: it holds no job`);
        return 0;
      }
    }
    spec = JSON.parse(job.spec_json) as JobSpec;
    source = job.source;
    log(`resuming job ${job.job_id} (${job.name}): ${job.runs_done} of ${job.runs} runs done`);
  } finally {
    db.close();
  }
  return runJob({ ...spec, db: dbPath }, source, args);
}
