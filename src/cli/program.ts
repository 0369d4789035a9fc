import yargs, { type Argv } from 'yargs';
import { EXIT, InputError } from '../errors.js';
import { TOOL_VERSION } from '../version.js';
import { explainCli, exportCli, fetchInputsCli, jobsCli, migrateCli, planCli, reportCli, resumeCli, rmCli, runCli, runsCli, serveCli, sqlCli, statusCli, unlockCli, workerCli } from './commands.js';
import { reportFailure } from './common.js';
import { setInProcessSettings, type InProcessSettings } from './inProcess.js';
import { log, openStdioStreams, out, redirectOutput, setCommandArgs, setDebug, type CommandIo } from './output.js';

/** A flag that takes one value, given twice (`--tau 1 --tau 2`), is refused rather than guessed at. */
function noRepeatedFlags(argv: Record<string, unknown>, options: { array?: string[] }): boolean {
  for (const [key, value] of Object.entries(argv)) {
    if (key === '_' || key === '$0' || key.includes('-') || options.array?.includes(key)) continue;
    if (Array.isArray(value)) throw new Error(`--${key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)} given ${value.length} times; give it once`);
  }
  return true;
}

const COMMANDS = ['run', 'plan', 'resume', 'status', 'report', 'explain', 'export', 'sql', 'runs', 'jobs', 'rm', 'migrate', 'serve', 'worker', 'unlock', 'fetch-inputs', 'completion'];

/**
 * Parses a command line and runs its command, which sets process.exitCode.
 * `inProcess` (runCommandLine): help, version and usage errors return rather than end the process.
 */
export async function main(argv: string[], options: { readonly inProcess?: boolean } = {}): Promise<void> {
  const inProcess = options.inProcess === true;
  setCommandArgs(argv);
  // Output errors are handled where output is written (output.ts); a stream error must not crash.
  if (!inProcess) openStdioStreams();
  if (await answeredCompletion(argv)) return;
  const parser = programParser(argv, inProcess);
  if (!inProcess) {
    await parser.parseAsync();
    return;
  }
  await parseInProcess(parser, argv);
}

/** Answers what our own completion code answers (the script; values yargs cannot know); false: yargs is to answer. */
async function answeredCompletion(argv: string[]): Promise<boolean> {
  if (argv[0] === 'completion' && !argv.includes('--help') && !argv.includes('-h')) {
    // Our own script: yargs' calls `sparsetrace`, which the README's npx set-up does not put on the PATH.
    out((await import('./completion.js')).completionScript());
    return true;
  }
  const asked = argv.indexOf('--get-yargs-completions');
  if (asked < 0) return false;
  // Values yargs cannot know (run ids, job names from the database; --by lists; file names) are answered here;
  // commands and options by yargs, below. (yargs would validate the command line before an asynchronous answer came.)
  const values = await (await import('./completion.js')).valueCompletions(argv.slice(asked + 2));
  if (values === undefined) return false;
  out(values.map((value) => `${value}\n`).join(''));
  return true;
}

/** The yargs program: every command, the global options, help and version, and what a usage error does. */
function programParser(argv: string[], inProcess: boolean): Argv {
  const cli = yargs(argv);
  return withGlobalOptions(withCommands(cli))
    .wrap(cli.terminalWidth())
    .exitProcess(!inProcess)
    .epilogue(
      'SPARSETRACE_DB=FILE sets the database for every command (like --db); SPARSETRACE_DEBUG=1 is --debug. ' +
        'Exit codes: 0 done; 1 the environment or another process (a busy database, a full disk, permissions); ' +
        '2 bad input; 130/143/129 interrupted by SIGINT/SIGTERM/SIGHUP (committed work is kept). Read commands (report, export, sql, status, runs, jobs) ' +
        'never write and work on read-only files and media. `sparsetrace <command> --help` for each command.',
    )
    .fail((message, error) => usageFailure(argv, inProcess, message ?? error?.message));
}

function withCommands(cli: Argv): Argv {
  return cli
    .scriptName('sparsetrace')
    .usage('$0 <command> [options]\n\nQ1 sparsity: for every prediction of a small recurrent network, how many weights take part in its explanation.')
    .command(runCli)
    .command(planCli)
    .command(resumeCli)
    .command(statusCli)
    .command(reportCli)
    .command(explainCli)
    .command(exportCli)
    .command(sqlCli)
    .command(runsCli)
    .command(jobsCli)
    .command(rmCli)
    .command(migrateCli)
    .command(serveCli)
    .command(workerCli)
    .command(unlockCli)
    .command(fetchInputsCli);
}

function withGlobalOptions(cli: Argv): Argv {
  return cli
    .option('debug', { describe: 'print stack traces with errors (also: SPARSETRACE_DEBUG=1)', type: 'boolean', global: true })
    .middleware((args) => setDebug(args.debug === true), true)
    .check(noRepeatedFlags as never, true)
    .completion('completion', 'print a bash completion script: npx sparsetrace completion >> ~/.bashrc')
    .demandCommand(1, 'name a command')
    .strict()
    .version(TOOL_VERSION)
    .alias('V', 'version')
    .help()
    .alias('h', 'help');
}

/** A usage error (handlers catch their own errors, exitWith): one line naming the command's help; exit code 2. */
function usageFailure(argv: string[], inProcess: boolean, message: string | undefined): never {
  const command = COMMANDS.find((name) => name === argv.find((arg) => !arg.startsWith('-')));
  const text = (message ?? 'bad usage').replace(/\s*\n\s*/g, ' ');
  const line = `${text} (see \`sparsetrace ${command ? `${command} ` : ''}--help\`)`;
  // In this process, the caller says it (reportFailure) and returns its exit code.
  if (inProcess) throw new InputError(line);
  log(`sparsetrace: ${line}`);
  process.exit(EXIT.badInput);
}

/**
 * In this process, what yargs prints itself (help, the version, its completions) goes to out() as the
 * command's stdout, not to console.log: given a callback, yargs hands that text over instead of printing it.
 */
async function parseInProcess(parser: Argv, argv: string[]): Promise<void> {
  let printed = '';
  await parser.parseAsync(argv, {}, (_error, _argv, output) => {
    printed = output;
  });
  if (printed !== '') out(`${printed}\n`);
}

/**
 * Runs one command line in this process, as the CLI would, with its stdout and
 * stderr going to `io`; returns its exit code. What only a process shows
 * (signals, exit codes of the process, pipes, a FIFO that would block) is
 * tested by spawning bin/sparsetrace.js; everything else can run here.
 * `settings` (inProcess.ts) are for this call's command only.
 */
export async function runCommandLine(argv: readonly string[], io: CommandIo, settings: InProcessSettings = {}): Promise<number> {
  const saved = process.exitCode;
  process.exitCode = undefined;
  setDebug(false);
  redirectOutput(io);
  setInProcessSettings(settings);
  try {
    await main([...argv], { inProcess: true });
    return Number(process.exitCode ?? EXIT.done);
  } catch (error) {
    return reportFailure(error);
  } finally {
    redirectOutput(undefined);
    setInProcessSettings({});
    process.exitCode = saved;
  }
}
