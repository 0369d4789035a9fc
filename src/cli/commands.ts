/**
 * The command table: every command's yargs definition (options, help, examples).
 * Only light modules are imported here, since --help and --version load this file
 * and nothing more: a handler imports its command's file (src/cli/<command>.ts,
 * with the store, engine, runner, report or queue code it needs) when it runs.
 * Imports of those files here are type-only.
 */
import type { Argv } from 'yargs';
import { DEFAULT_RULE, RULE_NAMES, RULES } from '../engine/computation.js';
import { DEFAULT_DB, DEFAULT_INPUTS_DIR } from '../job/file.js';
import { MAX_DMAX } from '../job/spec.js';
import { PAGE_TAU } from '../page.js';
import { DEFAULT_BATCH_COST, DEFAULT_LOCK_SECONDS, DEFAULT_QUEUE_NAME, DEFAULT_SERVE_LOCK_SECONDS } from '../queue/protocol.js';
import { ALL_SECTIONS, GROUPINGS, parseGroupings, parseSections, REPORT_FORMATS, REPORT_SECTIONS, type Grouping, type ReportFormat, type ReportSection } from '../report/choices.js';
import { dbOption, defineCommand, jobOption, READ_ONLY_NOTE, reportOptionProblem, runOptions, selectionOptions, shownNumber, thresholdProblem, threadsProblem } from './common.js';
import type { SqlFormat } from './sql.js';

export const runCli = defineCommand({
  command: 'run [job]',
  describe: 'compute a job (default: the Q1 job on ./inputs), then print its report',
  examples: [
    ['$0 run', 'the published Q1 job on ./inputs, into results/sparsetrace.sqlite'],
    ['$0 run jobs/example-sweep.json --threads 2', 'a sweep; run it again (or resume) to continue after an interruption'],
    ['$0 run --length 256 --dmax 20 --tau 1e-3,0.01 --db /tmp/t.sqlite', 'a quick run on the first 256 bytes'],
  ],
  builder: (args) =>
    runOptions(
      args
        .positional('job', { describe: 'job file (jobs/*.json); paths in it are relative to the file', type: 'string' })
        .option('model', { describe: "model file, replacing the job's models", type: 'string', requiresArg: true })
        .option('data', { describe: "data file, replacing each data source's path", type: 'string', requiresArg: true })
        .option('offset', { describe: 'window offset in bytes', type: 'number', requiresArg: true })
        .option('length', { describe: 'window length in bytes', type: 'number', requiresArg: true })
        .option('burn-in', { describe: BURN_IN_HELP, type: 'number', requiresArg: true })
        .option('dmax', { describe: 'backward depth Dmax', type: 'number', requiresArg: true })
        .option('tau', { describe: 'thresholds, comma-separated (e.g. 1e-3,0.01,0.1)', type: 'string', requiresArg: true })
        .option('depth-curves', { describe: "keep every position's depth mass at every offset (depth_mass; about 21 B per position and offset), not only the sums the report needs", type: 'boolean' })
        .option('keep', {
          describe: "what a finished run keeps: 'full' (every per-position row) or 'summaries' (what every figure of the report needs: about a fifth of the disk; no counts, positions or pattern_peaks rows)",
          choices: ['full', 'summaries'] as const,
        })
        .option('rule', {
          describe: `the attribution rule, replacing the job's "rule" (default ${DEFAULT_RULE}): ${RULE_NAMES.map((name) => `${name}, ${RULES[name].summary}`).join('; ')}`,
          choices: RULE_NAMES,
          requiresArg: true,
        })
        .option('db', dbOption)
        .check((argv) => {
          const limits = [
            ['offset', argv.offset, 0, Number.MAX_SAFE_INTEGER],
            ['length', argv.length, 2, Number.MAX_SAFE_INTEGER],
            ['burn-in', argv['burn-in'], 0, Number.MAX_SAFE_INTEGER],
            ['dmax', argv.dmax, 0, MAX_DMAX],
          ] as const;
          const problem = integerFlagProblem(limits);
          if (problem !== undefined) throw new Error(problem);
          return true;
        })
        .epilogue(
          'A job expands into runs (model × window × Dmax). What the database already holds is skipped, ' +
            'so running the same job again continues it (or: sparsetrace resume). Ctrl-C (SIGINT/SIGTERM) stops ' +
            'after the shards in flight are committed; a killed process loses at most those. One process writes ' +
            'a database at a time (see --wait, and sparsetrace unlock for a lock left on another host).',
        ),
    ),
  handler: async (argv) => (await import('./run.js')).runCommand(argv),
});

const BURN_IN_HELP =
  "bytes the network reads before each window, from h = 0, replacing each data source's \"burnIn\" (default 0: the spec's cold start); " +
  "the window's positions keep their numbers and their traces may reach back into those bytes; at most the window's offset";

/** The first flag whose value is not an integer within its bounds, as a message; undefined when all are. */
function integerFlagProblem(limits: readonly (readonly [string, number | undefined, number, number])[]): string | undefined {
  for (const [flag, value, min, max] of limits) {
    if (value !== undefined && !(Number.isSafeInteger(value) && value >= min && value <= max)) {
      return `--${flag}: must be an integer ≥ ${min}${max < Number.MAX_SAFE_INTEGER ? ` and ≤ ${max}` : ''}, got ${shownNumber(value)}`;
    }
  }
  return undefined;
}

/** The options of `plan`: those of `run` that shape the job, and the threads it would use. */
function planOptions<T>(args: Argv<T>) {
  return args
    .positional('job', { describe: 'job file (jobs/*.json); default: the Q1 job on ./inputs', type: 'string' })
    .option('model', { describe: 'model file, replacing the job\'s models', type: 'string' })
    .option('data', { describe: 'data file, replacing each data source\'s path', type: 'string' })
    .option('offset', { describe: 'window offset in bytes', type: 'number' })
    .option('length', { describe: 'window length in bytes', type: 'number' })
    .option('burn-in', { describe: 'bytes read before each window from h = 0 (as run --burn-in; plan counts their cost)', type: 'number', requiresArg: true })
    .option('dmax', { describe: 'backward depth Dmax', type: 'number' })
    .option('tau', { describe: 'thresholds, comma-separated', type: 'string' })
    .option('depth-curves', { describe: 'keep every position\'s depth mass at every offset (as run --depth-curves)', type: 'boolean' })
    .option('keep', { describe: "what a finished run keeps (as run --keep)", choices: ['full', 'summaries'] as const })
    .option('rule', { describe: 'the attribution rule (as run --rule)', choices: RULE_NAMES, requiresArg: true })
    .option('db', { describe: 'SQLite database (default: the job\'s "db", else results/sparsetrace.sqlite)', type: 'string' })
    .option('threads', { describe: 'worker threads the run would use (default: as run, one per core and one per 2,048 positions; at most 256)', type: 'number' })
    .option('format', { describe: 'output format', choices: ['text', 'json'] as const, default: 'text' as const })
    .check((argv) => {
      const problem = threadsProblem(argv.threads) ?? integerFlagProblem([['burn-in', argv['burn-in'], 0, Number.MAX_SAFE_INTEGER]]);
      if (problem !== undefined) throw new Error(problem);
      return true;
    })
    .epilogue(
      'Reads the job and its inputs and the database (read-only) and writes nothing: how many runs\n' +
        'and positions, how many the database already holds, the disk the results will take and the\n' +
        'time on this machine, from a short measurement of the engine on the job\'s own model and data.',
    );
}

export const planCli = defineCommand({
  command: 'plan [job]',
  describe: 'what run would do: runs, positions, disk and time on this machine, without writing',
  examples: [
    ['$0 plan jobs/example-sweep.json', 'runs, positions, disk and time of the example sweep, before running it'],
    ['$0 plan jobs/example-sweep.json --threads 1 --format json', 'the same on one thread, for scripts'],
  ],
  builder: (args) => planOptions(args),
  handler: async (argv) => (await import('./plan.js')).planCommand(argv),
});

export const resumeCli = defineCommand({
  command: 'resume',
  describe: 'continue the last unfinished job',
  examples: [
    ['$0 resume', 'continue the last unfinished job of the default database'],
    ['$0 resume --db results/sweep.sqlite --wait', 'continue once the current writer is done'],
    ['$0 resume --job 2', 'continue job 2 (see sparsetrace jobs) rather than the last unfinished one'],
  ],
  builder: (args) => runOptions(args.option('db', dbOption).option('job', { ...jobOption, describe: 'job id or name (default: the most recently started unfinished job)' })),
  handler: async (argv) => (await import('./resume.js')).resumeCommand(argv),
});

export const statusCli = defineCommand({
  command: 'status',
  describe: 'where every job and run stands; rate and ETA while one is live',
  examples: [
    ['$0 status', 'one line per job, then every run'],
    ['$0 status --format json | jq .jobs[0].eta_seconds', 'the ETA of a live job, for scripts'],
    ['$0 status --job example-sweep', 'one job only'],
  ],
  builder: (args) =>
    args
      .option('db', dbOption)
      .option('job', { ...jobOption, describe: 'only this job (id or name; default: every job)' })
      .option('format', { describe: 'output format', choices: ['text', 'json'] as const, default: 'text' as const, requiresArg: true })
      .epilogue(READ_ONLY_NOTE),
  handler: async (argv) => (await import('./status.js')).statusCommand(argv),
});

/** `--by` as checked (report's .check refuses an unknown key first). */
function groupingsOf(by: unknown): Grouping[] | undefined {
  const keys = parseGroupings(by as string | string[] | undefined);
  return typeof keys === 'string' || keys.length === 0 ? undefined : keys;
}

/** `--sections` as checked. */
function sectionsOf(value: unknown): ReportSection[] | 'overview' | undefined {
  const sections = parseSections(value as string | undefined);
  return Array.isArray(sections) || sections === 'overview' ? sections : undefined;
}

/** The options `report` takes only for `--format html` (refused with other formats: no default, so a given one is seen), and --out. */
function reportHtmlOptions<T>(args: Argv<T>) {
  return args
    .option('hist-tau', { describe: `html: τ of the histogram of active patterns per position (the nearest τ of the runs; default ${PAGE_TAU})`, type: 'number', requiresArg: true })
    .option('explain', { describe: 'html: add a section explaining position T (one run)', type: 'number', requiresArg: true })
    .option('explain-tau', { describe: `html: τ of the --explain listing (default ${PAGE_TAU})`, type: 'number', requiresArg: true })
    .option('out', { describe: 'write the report to this file (atomically: complete or not at all) instead of stdout, in any format', type: 'string', requiresArg: true })
    .check((argv) => {
      const problem = reportOptionProblem(argv as { format?: string; histTau?: unknown; explain?: unknown; explainTau?: unknown });
      if (problem !== undefined) throw new Error(problem);
      return true;
    });
}

/** τ of the page's histogram and --explain listing when not given. */
const HTML_TAU_DEFAULT = PAGE_TAU;

export const reportCli = defineCommand({
  command: 'report',
  describe: 'the results page, computed in SQL',
  examples: [
    ['$0 report', 'the results page of the last job'],
    ['$0 report --by window --tau 0.01 --format csv > by-window.csv', 'one tidy table, one row per figure, per window'],
    ['$0 report --all --model inputs/sat_model.bin --dmax 50 --format json', 'every run of one model at Dmax 50'],
    ['$0 report --sections surprise --tau 0.01', 'n by surprisal bin and its rank correlation with the surprisal, at τ = 0.01'],
    ['$0 report --sections frequency', 'the patterns active at the most positions per class, and the recurrent backbone (τ = 0.01)'],
  ],
  builder: (args) =>
    reportHtmlOptions(selectionOptions(args))
      .option('format', { describe: 'output format (html: the results page with charts, one self-contained file)', choices: [...REPORT_FORMATS, 'html' as const], default: 'text' as ReportFormat | 'html', requiresArg: true })
      .option('by', {
        describe: `group the runs: one row (or page section) per group; keys ${GROUPINGS.join(', ')}, several as --by window,dmax or --by window --by dmax`,
        type: 'string',
        array: true,
        requiresArg: true,
      })
      // Repeatable here only: the same selection in each store, compared (report --db A --db B).
      .option('db', { ...dbOption, describe: `${dbOption.describe}; repeat it to compare stores (text, md, json, csv)`, array: true })
      .option('sections', {
        describe: `the sections to print (text, md, json, csv), 'all', or some of ${ALL_SECTIONS.join(', ')}; a grouped report prints them for every group (default: ${REPORT_SECTIONS.join(',')}, without surprise, which reads every position, and frequency; grouped text and md: 'overview', one row per group and τ)`,
        type: 'string',
        requiresArg: true,
      })
      .option('pool', { describe: 'pool runs of different Dmax into one figure (said on the page); models and τ lists are never pooled', type: 'boolean', default: false })
      .option('tau', { describe: 'only these thresholds, comma-separated; 0.0178 names 0.0177827941 (the τ it rounds)', type: 'string', requiresArg: true })
      .option('never-tau', { describe: 'τ for the never-active patterns', type: 'number', default: PAGE_TAU, requiresArg: true })
      .check((argv) => {
        const by = parseGroupings(argv.by as string | string[] | undefined);
        const sections = parseSections(argv.sections as string | undefined);
        const problem =
          (typeof by === 'string' ? by : undefined) ??
          (typeof sections === 'string' && sections !== 'overview' ? sections : undefined) ??
          (argv.sections !== undefined && argv.format === 'html' ? '--sections: not for --format html (the page has every section)' : undefined) ??
          thresholdProblem('--never-tau', argv.neverTau) ??
          (argv.histTau !== undefined ? thresholdProblem('--hist-tau', argv.histTau) : undefined) ??
          (argv.explain !== undefined ? thresholdProblem('--explain-tau', argv.explainTau ?? HTML_TAU_DEFAULT) : undefined);
        if (problem !== undefined) throw new Error(problem);
        return true;
      })
      .epilogue(READ_ONLY_NOTE),
  // vega and vega-lite load only for --format html (report-html.ts).
  handler: async (argv) =>
    argv.format === 'html'
      ? (await import('./report-html.js')).reportHtmlCommand({ ...argv, histTau: argv.histTau ?? HTML_TAU_DEFAULT, explainTau: argv.explainTau ?? HTML_TAU_DEFAULT, by: groupingsOf(argv.by), runs: argv.run })
      : (await import('./report.js')).reportCommand({ ...argv, format: argv.format, by: groupingsOf(argv.by), sections: sectionsOf(argv.sections), runs: argv.run }),
});

/** The options `explain` takes beside the selection of runs. */
function explainOptions<T>(args: Argv<T>) {
  return args
    .option('t', { describe: 'the position (0-based: predicting byte t+1 of the window)', type: 'number', demandOption: true })
    .option('tau', { describe: 'list the patterns active at this τ', type: 'number', default: PAGE_TAU })
    .option('format', { describe: 'output format', choices: ['text', 'json'] as const, default: 'text' as const })
    .option('limit', { describe: 'text: at most this many patterns (JSON lists all)', type: 'number', default: 50 })
    .option('out', { describe: 'write to this file (atomically: complete or not at all) instead of stdout', type: 'string', requiresArg: true })
    .check((argv) => {
      const problem = thresholdProblem('--tau', argv.tau);
      if (problem !== undefined) throw new Error(problem);
      return true;
    })
    .epilogue(
      'Recomputes one position with the engine from the run\'s model and data files and lists the\n' +
        'active patterns: class, source, target, the offset d where the attribution peaks, the attribution.\n' +
        'Its counts are printed beside the stored n_x, n_h, n_y at every τ of the run.',
    );
}

export const explainCli = defineCommand({
  command: 'explain',
  describe: 'recompute one position and list its active patterns',
  examples: [
    ['$0 explain --t 955 --tau 0.01', 'the patterns active at position 955 of the last job\'s run'],
    ['$0 explain --run 02e3 --t 10 --format json', 'every active pattern of one position, for scripts'],
  ],
  builder: (args) => explainOptions(selectionOptions(args)),
  handler: async (argv) => (await import('./explain.js')).explainCommand({ ...argv, runs: argv.run }),
});

export const exportCli = defineCommand({
  command: 'export',
  describe: 'per-position counts as CSV (t,y,tau,n_x,n_h,n_y) or NDJSON, streamed',
  examples: [
    ['$0 export --out counts.csv', 'the last job\'s per-position counts (a job of one run)'],
    ['$0 export --all --job example-sweep | gzip > sweep.csv.gz', 'every run of a job, with a run column'],
  ],
  builder: (args) =>
    selectionOptions(args)
      .option('format', { describe: 'csv, or ndjson (one JSON object per line)', choices: ['csv', 'ndjson'] as const, default: 'csv' as const, requiresArg: true })
      .option('out', { describe: 'write to this file (atomically: complete or not at all) instead of stdout', type: 'string', requiresArg: true })
      .epilogue(`Without --all the selection must be one run; --all exports every run (of --job, if given) with a leading run column. ${READ_ONLY_NOTE}`),
  handler: async (argv) => (await import('./export.js')).exportCommand({ ...argv, runs: argv.run }),
});

/** `sql --format`: every format sql.ts writes rows in. */
const SQL_FORMATS: readonly SqlFormat[] = ['text', 'json', 'ndjson', 'csv'];

export const sqlCli = defineCommand({
  command: 'sql <query>',
  describe: 'any SQL query on the database (docs/schema.md), rows streamed',
  examples: [
    ['$0 sql "SELECT tau_label(tau) AS tau, avg(n_x + n_h + n_y) FROM counts GROUP BY tau"', 'mean active patterns per τ'],
    ['$0 sql "SELECT * FROM counts WHERE sig(tau, 3) = 0.0178" --format ndjson | head', 'rows at τ ≈ 0.0178, one JSON object per line'],
    ['$0 sql --write "UPDATE jobs SET name = \'q1-baseline\' WHERE job_id = 1"', 'a change, under the writer lock'],
    ['$0 sql --attach old=results/old.sqlite "SELECT dmax, count(*) FROM old.runs GROUP BY dmax"', 'read a second database beside this one (read-only)'],
  ],
  builder: (args) =>
    args
      .positional('query', { describe: 'the SQL statement', type: 'string', demandOption: true })
      .option('db', dbOption)
      .option('format', { describe: 'output format (ndjson: one JSON object per line)', choices: SQL_FORMATS, default: 'text' as SqlFormat, requiresArg: true })
      .option('write', { describe: 'open the database for writing (takes the writer lock, like run); any statement that writes, also to another file (VACUUM INTO), needs it', type: 'boolean', default: false })
      .option('wait', { describe: 'with --write: wait for another writer to finish instead of failing', type: 'boolean', default: false })
      .option('attach', { describe: 'NAME=FILE: read another database beside this one as NAME.table (repeatable; read-only, so not with --write)', type: 'string', array: true, nargs: 1, requiresArg: true })
      .epilogue(
        `Thresholds: tau_label(tau) is τ as reports print it, sig(x, n) rounds to n significant digits ` +
          `(WHERE sig(tau, 3) = 0.0178). Without --write: ${READ_ONLY_NOTE.charAt(0).toLowerCase()}${READ_ONLY_NOTE.slice(1)}`,
      ),
  handler: async (argv) => (await import('./sql.js')).sqlCommand(argv),
});

export const runsCli = defineCommand({
  command: 'runs',
  describe: 'list the runs in the database',
  examples: [
    ['$0 runs', 'every run, with its model, window, Dmax and τ'],
    ['$0 runs --format json', 'the same for scripts (τ as arrays)'],
    ['$0 runs --job 2', "the runs of job 2, in the job's order"],
  ],
  builder: (args) => args.option('db', dbOption).option('job', { ...jobOption, describe: "only this job's runs (id or name; default: every run)" }).option('format', { choices: ['text', 'json', 'csv'] as const, default: 'text' as const, requiresArg: true }).epilogue(READ_ONLY_NOTE),
  handler: async (argv) => (await import('./runs.js')).runsCommand(argv),
});

export const jobsCli = defineCommand({
  command: 'jobs',
  describe: 'list the jobs in the database: runs, positions, state',
  examples: [
    ['$0 jobs', 'every job with its source, runs done, positions committed and state'],
    ['$0 jobs --format json', 'the same for scripts'],
  ],
  builder: (args) =>
    args
      .option('db', dbOption)
      .option('format', { describe: 'output format', choices: ['text', 'json'] as const, default: 'text' as const, requiresArg: true })
      .epilogue(`States as status gives them: done, running, interrupted (some progress, no writer), pending. ${READ_ONLY_NOTE}`),
  handler: async (argv) => (await import('./jobs.js')).jobsCommand(argv),
});

export const rmCli = defineCommand({
  command: 'rm',
  describe: 'delete runs or a job with all their rows',
  examples: [
    ['$0 rm --run 219c --dry-run', 'what deleting a run (id or unique prefix) would remove, removing nothing'],
    ['$0 rm --job 2 --vacuum', 'delete job 2 and its runs no other job has, then give the space back'],
  ],
  builder: (args) =>
    args
      .option('db', dbOption)
      .option('run', { describe: 'run id or unique prefix (repeatable)', type: 'string', array: true, requiresArg: true })
      .option('job', { ...jobOption, describe: 'job id or name: the job and each of its runs that no other job has' })
      .option('dry-run', { describe: 'list what would be deleted; delete nothing', type: 'boolean', default: false })
      .option('vacuum', { describe: 'afterwards, give the freed space back to the file system (VACUUM; rewrites the file)', type: 'boolean', default: false })
      .option('wait', { describe: 'if another process is writing the database, wait for it instead of failing', type: 'boolean', default: false })
      .check((argv) => {
        if ((argv.run === undefined || argv.run.length === 0) && argv.job === undefined) throw new Error('rm: name what to delete with --run ID or --job ID');
        return true;
      })
      .epilogue(
        'Deletes every row of the selected runs from every table that has a run_key (and the jobs\' rows, and models no run uses), ' +
          'in one transaction under the writer lock, like run and sql --write: refused (exit 1) while another process writes. ' +
          'A run left "running" by a process that is gone is an interrupted run and can be deleted.',
      ),
  handler: async (argv) => (await import('./rm.js')).rmCommand(argv),
});

export const migrateCli = defineCommand({
  command: 'migrate',
  describe: 'upgrade a database written by an older sparsetrace (0.1.0 or later) to this schema, in place',
  examples: [
    ['$0 migrate --db results/old.sqlite', 'upgrade in place, then compact the file'],
    ['$0 migrate --no-vacuum', 'upgrade the default database, leaving its size as it is'],
  ],
  builder: (args) =>
    args
      .option('db', dbOption)
      .option('vacuum', { describe: "give the old tables' space back to the file system afterwards, when the upgrade freed any (--no-vacuum to skip)", type: 'boolean', default: true })
      .epilogue('Writing commands (run, resume) upgrade an old database when they first open it; reading commands ask for this one.'),
  handler: async (argv) => (await import('./migrate.js')).migrateCommand(argv),
});

/** Where the queue is: the flag, else REDIS_URL, which keeps a password out of `ps` and shell history. */
const queueOption = {
  describe: 'the Redis server, redis://HOST:PORT[/DB] (default: $REDIS_URL; a password there or in --queue-password-file, not on the command line)',
  type: 'string',
  requiresArg: true,
} as const;

const queuePasswordFileOption = {
  describe: "file holding the Redis password (one line), so that it is on no command line (ps shows those to every user)",
  type: 'string',
  requiresArg: true,
} as const;

export const serveCli = defineCommand({
  command: 'serve <job>',
  describe: 'coordinate a job over a Redis queue: enqueue its runs in batches, merge what workers finish',
  examples: [['$0 serve jobs/example-sweep.json --queue redis://queue-host:6379 --segments /shared/segments', 'enqueue the sweep and merge what the workers hand back']],
  builder: (args) =>
    args
      .positional('job', { describe: 'job file (jobs/*.json)', type: 'string', demandOption: true })
      .option('queue', queueOption)
      .option('queue-password-file', queuePasswordFileOption)
      .option('segments', { describe: 'folder the workers write finished batches to (shared with them)', type: 'string', demandOption: true })
      .option('queue-name', { describe: `queue name (default ${DEFAULT_QUEUE_NAME}); one coordinator per queue`, type: 'string' })
      .option('db', { describe: `SQLite database (default: the job file's "db", else ${DEFAULT_DB})`, type: 'string' })
      .option('batch-cost', { describe: `work per batch in position-steps, positions × (Dmax + 1) (default ${DEFAULT_BATCH_COST}: about 20–40 s of a 2-core machine)`, type: 'number' })
      .option('poll-ms', { describe: 'how often to look at the queue and the segments folder', type: 'number', default: 1000 })
      .option('max-rounds', { describe: 're-enqueues of missing runs when the queue runs dry, before giving up', type: 'number', default: 3 })
      .option('lock-seconds', {
        describe: `lifetime of its lock on the queue (one serve per queue), refreshed every sixth of it: a serve killed with -9 can be replaced after this (default ${DEFAULT_SERVE_LOCK_SECONDS})`,
        type: 'number',
      })
      .check((argv) => {
        for (const [flag, value, min] of [["batch-cost", argv.batchCost as unknown, 1], ["poll-ms", argv.pollMs as unknown, 10], ["max-rounds", argv.maxRounds as unknown, 0], ["lock-seconds", argv.lockSeconds as unknown, 1]] as const) {
          if (value !== undefined && !(Number.isSafeInteger(value) && (value as number) >= min)) throw new Error(`--${flag}: must be an integer ≥ ${min}, got ${shownNumber(value as number)}`);
        }
        return true;
      })
      .epilogue(
        [
          'Exits 0 when the database holds every run of the job. Its state is the database:',
          'stop it (Ctrl-C, SIGTERM, SIGHUP: exit 130, 143, 129) and start it again to resume.',
          'Redis checked at start: exit 1 if unreachable or it refuses the password, 2 for a bad URL.',
          'One serve per queue: a second is refused (exit 1). Segments not made for this job and',
          'queue are left alone; damaged or incomplete ones go to DIR/rejected/ with a reason.',
          'See README, "Several machines".',
        ].join('\n'),
      ),
  // BullMQ and ioredis load only when serve or worker runs (in serve.ts, worker.ts).
  handler: async (argv) => (await import('./serve.js')).serveCommand(argv),
});

export const workerCli = defineCommand({
  command: 'worker',
  describe: 'compute batches from a Redis queue (see serve) until stopped',
  examples: [['$0 worker --queue redis://queue-host:6379 --segments /shared/segments', 'compute batches on this machine until stopped']],
  builder: (args) =>
    args
      .option('queue', queueOption)
      .option('queue-password-file', queuePasswordFileOption)
      .option('segments', { describe: 'folder to write finished batches to (the one serve reads)', type: 'string', demandOption: true })
      .option('queue-name', { describe: `queue name (default ${DEFAULT_QUEUE_NAME})`, type: 'string' })
      .option('work-dir', { describe: 'local folder for the batch being computed (default: a folder in the system temp dir)', type: 'string' })
      .option('threads', { describe: 'worker threads (default: available cores; at most 256)', type: 'number' })
      .option('shard-size', { describe: 'positions per shard', type: 'number' })
      .option('lock-seconds', { describe: `lock on a batch, renewed every half of it; a dead worker's batch runs again after at most twice this (default ${DEFAULT_LOCK_SECONDS})`, type: 'number' })
      .check((argv) => {
        const problem = threadsProblem(argv.threads);
        if (problem !== undefined) throw new Error(problem);
        for (const [flag, value] of [['shard-size', argv.shardSize], ['lock-seconds', argv.lockSeconds]] as const) {
          if (value !== undefined && !(Number.isSafeInteger(value) && (value as number) >= 1)) throw new Error(`--${flag}: must be an integer ≥ 1, got ${shownNumber(value as number)}`);
        }
        return true;
      })
      .epilogue(
        [
          'SIGTERM/SIGINT/SIGHUP (exit 143/130/129): the batch in progress goes back to the queue',
          'after the shards in flight; a second signal, or 6 s without Redis, quits at once (the',
          'batch then runs again once its lock expires). A killed worker\'s batch runs again elsewhere.',
          'Checked at start: --segments and --work-dir writable, Redis reachable, password and database.',
        ].join('\n'),
      ),
  handler: async (argv) => (await import('./worker.js')).workerCommand(argv),
});

export const unlockCli = defineCommand({
  command: 'unlock',
  describe: 'remove a writer lock left by a process that no longer runs',
  examples: [
    ['$0 unlock --db /shared/sweep.sqlite', 'show who holds the lock and remove it if its process is gone'],
    ['$0 unlock --pid 4242 --db /shared/sweep.sqlite', 'remove the lock a process on another host left, confirmed by its pid'],
  ],
  builder: (args) =>
    args
      .option('db', dbOption)
      .option('pid', { describe: 'for a lock taken on another host: its pid, confirming it is the one to remove', type: 'number', requiresArg: true })
      .check((argv) => {
        if (argv.pid !== undefined && !(Number.isSafeInteger(argv.pid) && argv.pid > 0)) throw new Error(`--pid: must be a process id (an integer > 0), got ${shownNumber(argv.pid)}`);
        return true;
      })
      .epilogue(
        'A lock left by a dead process on this host is taken over by the next writer anyway; unlock ' +
          'is for a lock taken on another host (a shared disk), which this host cannot check.',
      ),
  handler: async (argv) => (await import('./unlock.js')).unlockCommand(argv),
});

export const fetchInputsCli = defineCommand({
  command: 'fetch-inputs',
  describe: `get the model and data into ./${DEFAULT_INPUTS_DIR}, verified`,
  examples: [
    ['$0 fetch-inputs', 'download the model and data, verified by SHA-256'],
    ['$0 fetch-inputs --from ../shared/inputs', 'copy them from a folder instead'],
  ],
  builder: (args) =>
    args
      .option('from', { describe: 'copy from this folder instead of downloading (e.g. ../shared/inputs)', type: 'string', requiresArg: true })
      .option('to', { describe: 'destination folder', type: 'string', requiresArg: true, default: DEFAULT_INPUTS_DIR }),
  handler: async (argv) => (await import('./fetch-inputs.js')).fetchInputsCommand(argv),
});
