import { resolve } from 'node:path';
import type { Argv } from 'yargs';
import { applyOverrides, defaultJob, DEFAULT_DB, loadJobFile, type JobOverrides } from '../job/index.js';
import { planJob } from '../plan/plan.js';
import { formatPlan } from '../report/plan.js';
import { availableParallelism } from 'node:os';
import { defineCommand } from './common.js';
import { log, out } from './output.js';

export interface PlanArgs extends JobOverrides {
  readonly job?: string;
  readonly threads?: number;
  readonly format: 'text' | 'json';
}

export function planOptions<T>(args: Argv<T>) {
  return args
    .positional('job', { describe: 'job file (jobs/*.json); default: the Q1 job on ./inputs', type: 'string' })
    .option('model', { describe: 'model file, replacing the job\'s models', type: 'string' })
    .option('data', { describe: 'data file, replacing each data source\'s path', type: 'string' })
    .option('offset', { describe: 'window offset in bytes', type: 'number' })
    .option('length', { describe: 'window length in bytes', type: 'number' })
    .option('dmax', { describe: 'backward depth Dmax', type: 'number' })
    .option('tau', { describe: 'thresholds, comma-separated', type: 'string' })
    .option('depth-curves', { describe: 'keep every position\'s depth mass at every offset (as run --depth-curves)', type: 'boolean' })
    .option('db', { describe: 'SQLite database (default: the job\'s "db", else results/sparsetrace.sqlite)', type: 'string' })
    .option('threads', { describe: 'worker threads the run would use (default: available cores)', type: 'number' })
    .option('format', { describe: 'output format', choices: ['text', 'json'] as const, default: 'text' as const })
    .epilogue(
      'Reads the job and its inputs and the database (read-only) and writes nothing: how many runs\n' +
        'and positions, how many the database already holds, the disk the results will take and the\n' +
        'time on this machine, from a short measurement of the engine on the job\'s own model and data.',
    );
}

/** `sparsetrace plan [job]`: what `run` would do, without doing it. */
export function planCommand(args: PlanArgs): number {
  const base = args.job !== undefined ? loadJobFile(args.job) : defaultJob();
  const spec = applyOverrides(base, args);
  const database = spec.db ?? DEFAULT_DB;
  const plan = planJob(spec, { threads: args.threads ?? availableParallelism(), database: resolve(database) === resolve(DEFAULT_DB) ? DEFAULT_DB : database, log });
  out(formatPlan(plan, args.format));
  return 0;
}

export const planCli = defineCommand({
  command: 'plan [job]',
  describe: 'what run would do: runs, positions, disk and time on this machine, without writing',
  examples: [
    ['$0 plan jobs/example-sweep.json', 'runs, positions, disk and time of the example sweep, before running it'],
    ['$0 plan jobs/example-sweep.json --threads 1 --format json', 'the same on one thread, for scripts'],
  ],
  builder: (args) => planOptions(args),
  handler: (argv) => planCommand(argv),
});
