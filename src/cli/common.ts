import type { ArgumentsCamelCase, Argv, CommandModule } from 'yargs';
import { InputError } from '../errors.js';
import { DEFAULT_DB } from '../job/index.js';
import { DatabaseBusyError, openDatabase, type Db, type RunRow } from '../store/index.js';
import { log } from './output.js';

/** Exit codes: 0 done, 1 failed (or another process holds the database), 2 bad usage or bad input. */
export const EXIT_FAILED = 1;
export const EXIT_BAD_INPUT = 2;

/** Runs a command handler, turning its outcome into the process exit code. */
export async function exitWith(handler: () => number | Promise<number>): Promise<void> {
  try {
    process.exitCode = await handler();
  } catch (error) {
    if (error instanceof InputError) {
      log(`sparsetrace: ${error.message}`);
      process.exitCode = EXIT_BAD_INPUT;
    } else if (error instanceof DatabaseBusyError) {
      log(`sparsetrace: ${error.message}`);
      process.exitCode = EXIT_FAILED;
    } else {
      log(`sparsetrace: failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
      process.exitCode = EXIT_FAILED;
    }
  }
}

/**
 * One command of the CLI: its yargs options (`builder`) and the function that
 * runs it, returning the exit code. Each file of src/cli/ but main.ts defines one.
 */
export function defineCommand<O>(spec: {
  readonly command: string;
  readonly describe: string;
  readonly builder: (args: Argv) => Argv<O>;
  readonly handler: (argv: ArgumentsCamelCase<O>) => number | Promise<number>;
}): CommandModule<object, O> {
  return { command: spec.command, describe: spec.describe, builder: spec.builder, handler: (argv) => exitWith(() => spec.handler(argv)) };
}

export const dbOption = {
  describe: `SQLite database (default ${DEFAULT_DB}; for run, the job file's "db" if it names one)`,
  type: 'string',
} as const;

/** The options of `run` and `resume` that steer the computation. */
export function runOptions<T>(args: Argv<T>) {
  return args
    .option('threads', { describe: 'worker threads (default: available cores)', type: 'number' })
    .option('shard-size', { describe: 'positions per shard (results are identical for any size)', type: 'number' })
    .option('wait', { describe: 'if another process is writing the database, wait for it instead of failing', type: 'boolean', default: false })
    .option('report', { describe: 'print the report when the job is done (--no-report to skip)', type: 'boolean', default: true })
    .check((argv) => {
      const { threads, shardSize } = argv as { threads?: number; shardSize?: number };
      if (threads !== undefined && !(Number.isInteger(threads) && threads >= 1)) throw new Error(`--threads: must be an integer ≥ 1, got ${threads}`);
      if (shardSize !== undefined && !(Number.isInteger(shardSize) && shardSize >= 1)) throw new Error(`--shard-size: must be an integer ≥ 1, got ${shardSize}`);
      return true;
    });
}

/** The options that pick runs for `report` and `export` (see report/select.ts). */
export function selectionOptions<T>(args: Argv<T>) {
  return args
    .option('db', dbOption)
    .option('job', { describe: 'job id or name (default: the most recently started job)', type: 'string' })
    .option('run', { describe: 'run id or unique prefix (repeatable)', type: 'string', array: true })
    .option('all', { describe: 'every run in the database', type: 'boolean' })
    .option('model', { describe: 'only runs of this model (sha256 prefix or file path)', type: 'string' })
    .option('dmax', { describe: 'only runs with this Dmax', type: 'number' })
    .option('data', { describe: 'only runs over this data file', type: 'string' });
}

/** Opens the database for a command and closes it when the command is done. */
export function withDatabase<T>(path: string | undefined, body: (db: Db, path: string) => T, readonly = true): T {
  const dbPath = path ?? DEFAULT_DB;
  const db = openDatabase(dbPath, { readonly });
  try {
    return body(db, dbPath);
  } finally {
    db.close();
  }
}

/** A note on stderr when a selection holds runs that are not finished. */
export function warnIncomplete(runs: readonly RunRow[]): void {
  const unfinished = runs.filter((run) => run.status !== 'done');
  if (unfinished.length > 0) {
    log(
      `note: ${unfinished.length} of ${runs.length} selected runs are not finished (${unfinished.map((run) => `${run.run_id} ${run.positions_done}/${run.positions}`).join(', ')}); ` +
        'figures cover the positions computed so far, never-active counts only finished runs',
    );
  }
}
