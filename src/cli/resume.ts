import type { JobSpec } from '../job/index.js';
import { latestJob, listJobs, openDatabase } from '../store/index.js';
import { databasePath } from './database.js';
import { log } from './output.js';
import type { ExecutionArgs } from './run-job.js';
import { runJob } from './run.js';

export interface ResumeArgs extends ExecutionArgs {
  readonly db?: string;
}

/** `sparsetrace resume`: continues the most recent job that is not finished. */
export async function resumeCommand(args: ResumeArgs): Promise<number> {
  const dbPath = databasePath(args.db);
  const db = openDatabase(dbPath, { readonly: true });
  let spec: JobSpec;
  let source: string | null;
  try {
    const unfinished = listJobs(db).filter((job) => job.runs_done < job.runs);
    const job = unfinished[unfinished.length - 1];
    if (job === undefined) {
      const last = latestJob(db);
      log(last ? `nothing to resume in ${dbPath}: every job is done (last: ${last.name})` : `nothing to resume in ${dbPath}: it holds no job`);
      return 0;
    }
    spec = JSON.parse(job.spec_json) as JobSpec;
    source = job.source;
    log(`resuming job ${job.job_id} (${job.name}): ${job.runs_done} of ${job.runs} runs done`);
  } finally {
    db.close();
  }
  return runJob({ ...spec, db: dbPath }, source, args);
}
