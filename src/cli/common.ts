// Loaded by every command, --help and --version included: only light modules here
// (no store, engine, runner, report); what a command needs at run time is in its
// own file, loaded by its handler (commands.ts), or in database.ts.
import type { ArgumentsCamelCase, Argv, CommandModule } from 'yargs';
import { BrokenPipeError, classify, EXIT } from '../errors.js';
import { DEFAULT_DB } from '../job/file.js';
import { debugEnabled, log } from './output.js';

/**
 * Ends a command: the exit code of its error class (src/errors.ts) and one line
 * on stderr; a stack trace only with --debug or SPARSETRACE_DEBUG=1.
 */
/** A number flag's value as the user can recognise it: yargs turns text that is not a number into NaN. */
export function shownNumber(value: number): string {
  return Number.isNaN(value) ? 'something that is not a number' : String(value);
}

export function reportFailure(error: unknown): number {
  const known = classify(error);
  if (known instanceof BrokenPipeError) return known.exitCode;
  const stack = error instanceof Error ? error.stack : undefined;
  if (known !== undefined) {
    log(`sparsetrace: ${known.message}`);
  } else {
    const message = error instanceof Error ? error.message : String(error);
    log(`sparsetrace: internal error: ${message.split('\n')[0]} (a bug; ${debugEnabled() ? 'please report it with the trace below' : 'rerun with --debug for the trace to report'})`);
  }
  if (debugEnabled() && stack !== undefined) log(stack);
  return known?.exitCode ?? EXIT.failed;
}

/** Runs a command handler, turning its outcome into the process exit code. */
export async function exitWith(handler: () => number | Promise<number>): Promise<void> {
  try {
    process.exitCode = await handler();
  } catch (error) {
    process.exitCode = reportFailure(error);
  }
}

/**
 * One command of the CLI: its yargs options (`builder`) and the function that
 * runs it, returning the exit code. commands.ts defines them all; each handler loads
 * its command's file (src/cli/<command>.ts) only when that command runs.
 */
export function defineCommand<O>(spec: {
  readonly command: string;
  readonly describe: string;
  /** Example command lines with what each does, shown in the command's --help. */
  readonly examples: readonly (readonly [string, string])[];
  readonly builder: (args: Argv) => Argv<O>;
  readonly handler: (argv: ArgumentsCamelCase<O>) => number | Promise<number>;
}): CommandModule<object, O> {
  return {
    command: spec.command,
    describe: spec.describe,
    // --version belongs to the program, not to its commands.
    builder: (args) => spec.examples.reduce((built, [command, what]) => built.example(command, what), spec.builder(args.version(false))),
    handler: (argv) => exitWith(() => spec.handler(argv)),
  };
}

/** Help text of the commands that only read. */
export const READ_ONLY_NOTE =
  'Reads only: works on a database in a read-only file, folder or medium, and creates no file beside it.';

export const dbOption = {
  describe: `SQLite database (default: $SPARSETRACE_DB, else the one the last run used, else ${DEFAULT_DB}; for run, the job file's "db")`,
  type: 'string',
  requiresArg: true,
} as const;

/** --job: a job id or name (resolved by store/resolve.ts's findJob for every command). */
export const jobOption = {
  describe: 'job id or name (see sparsetrace jobs)',
  type: 'string',
  requiresArg: true,
} as const;

/** Worker threads at most: each costs about 15 MB, and 10,000 crashed Node; beyond the cores they only share them. */
export const MAX_THREADS = 256;

/** A --threads value's problem, or undefined when it is fine. */
export function threadsProblem(threads: number | undefined): string | undefined {
  if (threads === undefined) return undefined;
  if (!(Number.isInteger(threads) && threads >= 1)) return `--threads: must be an integer ≥ 1, got ${shownNumber(threads)}`;
  if (threads > MAX_THREADS) return `--threads: at most ${MAX_THREADS}, got ${threads} (more threads than cores only share them)`;
  return undefined;
}

/** A threshold flag's problem (the engine compares τ as float32: one that rounds to 0 or ∞ is not the τ asked for), or undefined. */
export function thresholdProblem(flag: string, value: unknown): string | undefined {
  if (typeof value !== 'number' || !(Number.isFinite(value) && value > 0)) return `${flag}: must be a number > 0, got ${typeof value === 'number' ? shownNumber(value) : String(value)}`;
  const single = Math.fround(value);
  if (single === 0) return `${flag}: ${value} rounds to 0 as a float32 (the smallest is about 1.4e-45)`;
  if (!Number.isFinite(single)) return `${flag}: ${value} rounds to infinity as a float32 (the largest is about 3.4e38)`;
  return undefined;
}

/** The options of `run` and `resume` that steer the computation. */
export function runOptions<T>(args: Argv<T>) {
  return args
    .option('threads', { describe: 'worker threads (default: one per core, and one per 2,048 positions of the job; at most 256)', type: 'number', requiresArg: true })
    .option('shard-size', { describe: 'positions per shard (results are identical for any size)', type: 'number', requiresArg: true })
    .option('wait', { describe: 'if another process is writing the database, wait for it instead of failing', type: 'boolean', default: false })
    .option('report', { describe: 'print the report when the job is done (--no-report to skip)', type: 'boolean', default: true })
    .check((argv) => {
      const { threads, shardSize } = argv as { threads?: number; shardSize?: number };
      const problem = threadsProblem(threads);
      if (problem !== undefined) throw new Error(problem);
      if (shardSize !== undefined && !(Number.isInteger(shardSize) && shardSize >= 1)) throw new Error(`--shard-size: must be an integer ≥ 1, got ${shownNumber(shardSize)}`);
      return true;
    });
}

/** The options that pick runs for `report` and `export` (see report/select.ts). */
export function selectionOptions<T>(args: Argv<T>) {
  return args
    .option('db', dbOption)
    .option('job', { ...jobOption, describe: 'job id or name (default: the most recently started job)' })
    .option('run', { describe: 'run id or unique prefix (repeatable)', type: 'string', array: true, requiresArg: true })
    .option('all', { describe: 'every run in the database', type: 'boolean' })
    .option('model', { describe: 'only runs of this model (sha256 prefix or file path)', type: 'string', requiresArg: true })
    .option('dmax', { describe: 'only runs with this Dmax', type: 'number', requiresArg: true })
    .option('data', { describe: 'only runs over this data file', type: 'string', requiresArg: true })
    .check((argv) => {
      const { dmax } = argv as { dmax?: number };
      if (dmax !== undefined && !(Number.isSafeInteger(dmax) && dmax >= 0)) throw new Error(`--dmax: must be an integer ≥ 0, got ${shownNumber(dmax)}`);
      return true;
    });
}

/** `report`'s options that only the HTML page uses, with what each is for. */
const HTML_ONLY_OPTIONS = [
  ['histTau', '--hist-tau', 'the histogram on the page'],
  ['explain', '--explain', 'the page\'s explanation section; `sparsetrace explain --t T` explains a position in text or JSON'],
  ['explainTau', '--explain-tau', 'the page\'s explanation section; `sparsetrace explain --tau` sets it in text or JSON'],
] as const;

/** An option given to `report` that its format does not use: refused (exit 2) rather than silently ignored. */
export function reportOptionProblem(argv: { readonly format?: string; readonly histTau?: unknown; readonly explain?: unknown; readonly explainTau?: unknown }): string | undefined {
  if (argv.format === 'html') return undefined;
  for (const [key, flag, what] of HTML_ONLY_OPTIONS) {
    if (argv[key] !== undefined) return `${flag} applies to --format html only (${what}); leave it out with --format ${argv.format ?? 'text'}`;
  }
  return undefined;
}
