import type { JobSpec } from '../job/index.js';
import { defaultThreads, ShardPool } from '../runner/pool.js';
// Types only: erased, so this file still loads nothing but the pool.
import type { ExecutionArgs, RunArgs } from './run-job.js';

/** `sparsetrace run [job]`: computes what the database lacks of a job, then prints its report. */
export async function runCommand(args: RunArgs): Promise<number> {
  return withPool(args, async (pool, { jobOfRunArgs, runJobOnPool }) => {
    const { spec, source } = jobOfRunArgs(args);
    // Without --db, the database (the job file's, or the default) is remembered for later commands without --db.
    return runJobOnPool(pool, spec, source, { ...args, rememberDb: args.db === undefined && process.env.SPARSETRACE_DB === undefined });
  });
}

/** Computes what the database lacks of a job (`resume`). */
export async function runJob(spec: JobSpec, source: string | null, args: ExecutionArgs): Promise<number> {
  return withPool(args, (pool, { runJobOnPool }) => runJobOnPool(pool, spec, source, args));
}

/**
 * Starts the worker threads first, then loads the rest of the command (the
 * store, the job, the report): the threads boot (Node, the engine's modules,
 * WebAssembly) while this thread loads and reads the job. This file imports
 * only the pool for that reason.
 */
async function withPool(args: ExecutionArgs, body: (pool: ShardPool, command: typeof import('./run-job.js')) => Promise<number>): Promise<number> {
  const pool = new ShardPool(args.threads ?? defaultThreads());
  try {
    return await body(pool, await import('./run-job.js'));
  } finally {
    await pool.destroy();
  }
}
