import { databaseBytes, findJob, findRun, listRuns, liveLockHolder, planRemoval, removeSelection, type Db, type RemovalPlan, type RemovalRequest } from '../store/index.js';
import { lockForWriting, withDatabase } from './database.js';
import { log, out } from './output.js';

export interface RmArgs {
  readonly db?: string;
  /** Run ids or unique prefixes. */
  readonly run?: readonly string[];
  /** A job id or name. */
  readonly job?: string;
  readonly dryRun: boolean;
  readonly vacuum: boolean;
  readonly wait: boolean;
}

/** The runs and jobs the flags name (InputError, exit 2, for one the database does not hold). */
function request(db: Db, args: RmArgs, dbPath: string): RemovalRequest {
  const every = listRuns(db);
  return {
    runIds: [...new Set((args.run ?? []).map((wanted) => findRun(db, wanted, dbPath, every).run_id))],
    jobIds: args.job !== undefined ? [findJob(db, args.job, dbPath).job_id] : [],
  };
}

const plural = (n: number, word: string): string => `${n.toLocaleString('en-US')} ${word}${n === 1 ? '' : 's'}`;

/** What was (or would be) deleted, one line per run, job and model, then the totals. */
function describe(plan: RemovalPlan, verb: string): string {
  const lines = [
    ...plan.runs.map((run) => `${verb} run ${run.run_id} (${run.status === 'running' ? 'interrupted' : run.status}, ${run.positions_done}/${run.positions} positions)`),
    ...plan.kept.map((run) => `kept run ${run.run_id}: job${run.other_jobs.length === 1 ? '' : 's'} ${run.other_jobs.join(', ')} ${run.other_jobs.length === 1 ? 'has' : 'have'} it too`),
    ...plan.jobs.map((job) => `${verb} job ${job.job_id} ${job.name}`),
    ...plan.models.map((model) => `${verb} model ${model.model_sha256.slice(0, 12)} (${model.path}): no run uses it any more`),
  ];
  const positions = plan.runs.reduce((sum, run) => sum + run.positions_done, 0);
  const rows = plan.tables.reduce((sum, table) => sum + table.rows, 0);
  const perTable = plan.tables.map((table) => `${table.table} ${table.rows.toLocaleString('en-US')}`).join(', ');
  lines.push(
    `${verb} ${plural(plan.runs.length, 'run')} (${plural(positions, 'committed position')}), ${plural(plan.jobs.length, 'job')}, ${plural(plan.models.length, 'model')}: ` +
      `${plural(rows, 'row')}${perTable ? ` (${perTable})` : ''}`,
  );
  return `${lines.join('\n')}\n`;
}

/**
 * `sparsetrace rm`: deletes runs (--run) or a job (--job: its record and every
 * run no other job has) with all their rows, in one transaction under the writer
 * lock; a live writer makes it fail (exit 1) or wait (--wait). --dry-run only
 * lists what would go; --vacuum gives the freed pages back to the file system.
 */
export async function rmCommand(args: RmArgs): Promise<number> {
  if (args.dryRun) {
    return withDatabase(args.db, (db, dbPath) => {
      out(describe(planRemoval(db, request(db, args, dbPath)), 'would delete'));
      const writer = liveLockHolder(db);
      if (writer !== undefined) log(`note: process ${writer.pid} on ${writer.host} (${writer.command}) is writing ${dbPath}; rm waits for it to finish (--wait) or is refused`);
      if (args.vacuum) log('note: --vacuum does nothing with --dry-run');
      return 0;
    });
  }
  // Names the database does not hold are refused before it is opened for writing: a bad flag changes nothing.
  await withDatabase(args.db, (db, dbPath) => request(db, args, dbPath));
  return withDatabase(
    args.db,
    async (db, dbPath) => {
      const release = await lockForWriting(db, dbPath, args.wait);
      try {
        // Resolved under the lock: no writer changes the runs between the selection and the deletion.
        const plan = removeSelection(db, request(db, args, dbPath));
        out(describe(plan, 'deleted'));
        if (args.vacuum) {
          const before = databaseBytes(db);
          db.exec('VACUUM');
          const freed = before - databaseBytes(db);
          out(`vacuum: ${plural(freed, 'byte')} freed (${(before / 1e6).toFixed(1)} MB → ${((before - freed) / 1e6).toFixed(1)} MB)\n`);
        }
      } finally {
        release();
      }
      return 0;
    },
    { mustExist: true },
  );
}
