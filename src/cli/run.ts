import { basename, extname, resolve } from 'node:path';
import { checkRegularFile } from '../files.js';
import { DEFAULT_RULE } from '../engine/computation.js';
import { defaultJob, loadJobFile } from '../job/file.js';
import { applyOverrides, type JobSpec } from '../job/spec.js';
import { ShardPool } from '../runner/pool.js';
import { threadsForJob } from '../runner/threads.js';
// Types only: erased, so this file still loads nothing but the job file's reader and the pool.
import type { ExecutionArgs, RunArgs } from './run-job.js';

/** `sparsetrace run [job]`: computes what the database lacks of a job, then prints its report. */
export async function runCommand(args: RunArgs): Promise<number> {
  const { spec, source } = jobOfRunArgs(args);
  // Without --db, the database (the job file's, or the default) is remembered for later commands without --db.
  return runJob(spec, source, { ...args, rememberDb: args.db === undefined && process.env.SPARSETRACE_DB === undefined });
}

/** Computes what the database lacks of a job (`run`, `resume`). */
export async function runJob(spec: JobSpec, source: string | null, args: ExecutionArgs): Promise<number> {
  return withPool(args.threads ?? threadsForJob(spec), (pool, { runJobOnPool }) => runJobOnPool(pool, spec, source, args));
}

/** The job `run` computes: the job file (or the default job) with the command line's overrides. */
function jobOfRunArgs(args: RunArgs): { spec: JobSpec; source: string | null } {
  if (args.job !== undefined) checkRegularFile(args.job, 'job file');
  const base = args.job !== undefined ? loadJobFile(args.job) : defaultJob();
  const spec = applyOverrides(base, args);
  return { spec: args.job === undefined ? { ...spec, name: adHocName(spec, args) } : spec, source: args.job !== undefined ? resolve(args.job) : null };
}

/**
 * The name of a job given by flags alone: from its inputs (the data file's stem,
 * the window if --offset or --length chose one, Dmax; the model's stem first if
 * --model chose one; then a burn-in, `-burnin256`, and a rule other than q1), so
 * `jobs` and `--job` tell ad hoc jobs apart. The default job, without any of these
 * flags, keeps the published name.
 */
function adHocName(spec: JobSpec, args: RunArgs): string {
  const chosen = [args.model, args.data, args.offset, args.length, args.dmax, args.tau].some((flag) => flag !== undefined);
  const burnIn = spec.data[0]?.burnIn ?? 0;
  const rule = `${burnIn > 0 ? `-burnin${burnIn}` : ''}${spec.rule !== undefined && spec.rule !== DEFAULT_RULE ? `-${spec.rule}` : ''}`;
  if (!chosen) return `${spec.name}${rule}`;
  const stem = (path: string): string => basename(path, extname(path));
  const [data] = spec.data;
  const window = args.offset !== undefined || args.length !== undefined ? `@${data.offset}+${data.length}` : '';
  const model = args.model !== undefined ? `${stem(spec.models[0])}-` : '';
  return `${model}${stem(data.path)}${window}-dmax${spec.dmax.join(',')}${rule}`;
}

/**
 * Starts the worker threads first, then loads the rest of the command (the
 * store, the engine, the report): the threads boot (Node, the engine's modules,
 * WebAssembly) while this thread loads and expands the job. This file imports
 * only the job file's reader and the pool for that reason.
 */
async function withPool(threads: number, body: (pool: ShardPool, command: typeof import('./run-job.js')) => Promise<number>): Promise<number> {
  const pool = new ShardPool(threads);
  try {
    return await body(pool, await import('./run-job.js'));
  } finally {
    await pool.destroy();
  }
}
