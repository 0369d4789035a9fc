import yargs, { type Argv } from 'yargs';
import { hideBin } from 'yargs/helpers';
import { InputError } from '../errors.js';
import { fetchInputs, DEFAULT_INPUTS_DIR } from '../inputs/fetch.js';
import { DEFAULT_DB } from '../job/index.js';
import { REPORT_FORMATS, type ReportFormat } from '../report/format.js';
import { GROUPINGS, type Grouping } from '../report/select.js';
import { DatabaseBusyError } from '../store/index.js';
import { TOOL_VERSION } from '../version.js';
import { explainCommand, explainOptions } from './explain.js';
import { planCommand, planOptions } from './plan.js';
import { exportCommand, reportCommand, runsCommand, sqlCommand, statusCommand } from './inspect.js';
import { migrateCommand } from './migrate.js';
import { log } from './output.js';
import { reportHtmlCommand, reportHtmlOptions } from './report-html.js';
import { resumeCommand, runCommand } from './run.js';
import { serveCli } from './serve.js';
import { workerCli } from './worker.js';

/** Exit codes: 0 done, 1 failed (or another process holds the database), 2 bad usage or bad input. */
const EXIT_FAILED = 1;
const EXIT_BAD_INPUT = 2;

const dbOption = {
  describe: `SQLite database (default ${DEFAULT_DB}; for run, the job file's "db" if it names one)`,
  type: 'string',
} as const;

function runOptions<T>(args: Argv<T>) {
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

function selectionOptions<T>(args: Argv<T>) {
  return args
    .option('db', dbOption)
    .option('job', { describe: 'job id or name (default: the most recently started job)', type: 'string' })
    .option('run', { describe: 'run id or unique prefix (repeatable)', type: 'string', array: true })
    .option('all', { describe: 'every run in the database', type: 'boolean' })
    .option('model', { describe: 'only runs of this model (sha256 prefix or file path)', type: 'string' })
    .option('dmax', { describe: 'only runs with this Dmax', type: 'number' })
    .option('data', { describe: 'only runs over this data file', type: 'string' });
}

/** Runs a command handler, turning its outcome into the process exit code. */
async function exitWith(handler: () => number | Promise<number>): Promise<void> {
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

export async function main(argv: string[]): Promise<void> {
  await yargs(argv)
    .scriptName('sparsetrace')
    .usage('$0 <command> [options]\n\nQ1 sparsity: for every prediction of a small recurrent network, how many weights take part in its explanation.')
    .command(
      'run [job]',
      'compute a job (default: the Q1 job on ./inputs), then print its report',
      (args) =>
        runOptions(
          args
            .positional('job', { describe: 'job file (jobs/*.json); paths in it are relative to the file', type: 'string' })
            .option('model', { describe: 'model file, replacing the job\'s models', type: 'string' })
            .option('data', { describe: 'data file, replacing each data source\'s path', type: 'string' })
            .option('offset', { describe: 'window offset in bytes', type: 'number' })
            .option('length', { describe: 'window length in bytes', type: 'number' })
            .option('dmax', { describe: 'backward depth Dmax', type: 'number' })
            .option('tau', { describe: 'thresholds, comma-separated (e.g. 1e-3,0.01,0.1)', type: 'string' })
            .option('depth-curves', { describe: 'keep every position\'s depth mass at every offset (depth_mass; about 16 B per position and offset), not only the sums the report needs', type: 'boolean' })
            .option('db', dbOption)
            .check((argv) => {
              for (const [flag, value, min] of [['offset', argv.offset, 0], ['length', argv.length, 2], ['dmax', argv.dmax, 0]] as const) {
                if (value !== undefined && !(Number.isSafeInteger(value) && value >= min)) throw new Error(`--${flag}: must be an integer ≥ ${min}, got ${value}`);
              }
              return true;
            })
            .epilogue(
              [
                'A job expands into runs (model × window × Dmax). What the database already holds is',
                'skipped, so running the same job again continues it (or: sparsetrace resume).',
                'Ctrl-C (SIGINT/SIGTERM) stops after the shards in flight are committed; a killed',
                'process loses at most those. One process writes a database at a time (see --wait).',
                'Example sweep: jobs/example-sweep.json.',
              ].join('\n'),
            ),
        ),
      (argv) => exitWith(() => runCommand(argv)),
    )
    .command('plan [job]', 'what run would do: runs, positions, disk and time on this machine, without writing', (args) => planOptions(args), (argv) => exitWith(() => planCommand(argv)))
    .command(
      'resume',
      'continue the last unfinished job',
      (args) => runOptions(args.option('db', dbOption)),
      (argv) => exitWith(() => resumeCommand(argv)),
    )
    .command(
      'status',
      'where every run stands; rate and ETA while one is live',
      (args) => args.option('db', dbOption),
      (argv) => exitWith(() => statusCommand(argv)),
    )
    .command(
      'report',
      'the results page, computed in SQL',
      (args) =>
        reportHtmlOptions(
          selectionOptions(args)
            .option('format', { describe: 'output format (html: the results page with charts, one self-contained file)', choices: [...REPORT_FORMATS, 'html' as const], default: 'text' as ReportFormat | 'html' })
            .option('by', { describe: 'one row per group of runs', choices: GROUPINGS })
            .option('never-tau', { describe: 'τ for the never-active patterns', type: 'number', default: 0.01 }),
        ),
      (argv) =>
        exitWith(() =>
          argv.format === 'html'
            ? reportHtmlCommand({ ...argv, by: argv.by as Grouping | undefined, runs: argv.run })
            : reportCommand({ ...argv, format: argv.format, by: argv.by as Grouping | undefined, runs: argv.run }),
        ),
    )
    .command('explain', 'recompute one position and list its active patterns', (args) => explainOptions(selectionOptions(args)), (argv) => exitWith(() => explainCommand({ ...argv, runs: argv.run })))
    .command(
      'export',
      'per-position counts as CSV (t,y,tau,n_x,n_h,n_y)',
      (args) =>
        selectionOptions(args)
          .option('out', { describe: 'write to this file instead of stdout', type: 'string' })
          .epilogue('Without --all the selection must be one run; --all exports every run\n(of --job, if given) with a leading run column.'),
      (argv) => exitWith(() => exportCommand({ ...argv, runs: argv.run })),
    )
    .command(
      'sql <query>',
      'any SQL query on the database (docs/schema.md)',
      (args) =>
        args
          .positional('query', { describe: 'the SQL statement', type: 'string', demandOption: true })
          .option('db', dbOption)
          .option('format', { describe: 'output format', choices: ['text', 'json', 'csv'] as const, default: 'text' as const })
          .option('write', { describe: 'open the database for writing', type: 'boolean', default: false }),
      (argv) => exitWith(() => sqlCommand(argv)),
    )
    .command(
      'runs',
      'list the runs in the database',
      (args) => args.option('db', dbOption).option('format', { choices: ['text', 'json', 'csv'] as const, default: 'text' as const }),
      (argv) => exitWith(() => runsCommand(argv)),
    )
    .command(
      'migrate',
      'upgrade a database written by an older sparsetrace (0.1.0) to this schema, in place',
      (args) =>
        args
          .option('db', dbOption)
          .option('vacuum', { describe: 'give the old tables\' space back to the file system afterwards (--no-vacuum to skip)', type: 'boolean', default: true }),
      (argv) => exitWith(() => migrateCommand(argv)),
    )
    .command(serveCli(exitWith))
    .command(workerCli(exitWith))
    .command(
      'fetch-inputs',
      `get the model and data into ./${DEFAULT_INPUTS_DIR}, verified`,
      (args) =>
        args
          .option('from', { describe: 'copy from this folder instead of downloading (e.g. ../shared/inputs)', type: 'string' })
          .option('to', { describe: 'destination folder', type: 'string', default: DEFAULT_INPUTS_DIR }),
      (argv) =>
        exitWith(async () => {
          await fetchInputs({ from: argv.from, destination: argv.to, log });
          return 0;
        }),
    )
    .demandCommand(1, 'name a command (see --help)')
    .strict()
    .version(TOOL_VERSION)
    .help()
    .alias('h', 'help')
    .wrap(Math.min(100, process.stdout.columns ?? 100))
    .fail((message, error) => {
      // Handlers catch their own errors (exitWith), so what lands here is a usage error.
      log(`sparsetrace: ${message ?? error?.message}\n(see sparsetrace --help)`);
      process.exit(EXIT_BAD_INPUT);
    })
    .parseAsync();
}

await main(hideBin(process.argv));
