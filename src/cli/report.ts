import { InputError } from '../errors.js';
import { formatSelection, REPORT_FORMATS, type ReportFormat } from '../report/format.js';
import { GROUPINGS, selectRuns, type Grouping, type Selection } from '../report/select.js';
import { defineCommand, READ_ONLY_NOTE, selectionOptions, warnIncomplete, withDatabase } from './common.js';
import { log, out } from './output.js';
import { reportHtmlCommand, reportHtmlOptions } from './report-html.js';

export interface ReportArgs extends Selection {
  readonly db?: string;
  readonly format: ReportFormat;
  readonly by?: Grouping;
  readonly neverTau?: number;
  readonly tau?: string;
}

/** `--tau 0.01,0.0178`: the thresholds to show. */
function parseTauFilter(text: string | undefined): number[] | undefined {
  if (text === undefined) return undefined;
  return text.split(',').map((part) => {
    const value = Number(part.trim());
    if (part.trim() === '' || !Number.isFinite(value) || value <= 0) throw new InputError(`--tau: ${JSON.stringify(part)} is not a threshold (a number > 0)`);
    return value;
  });
}

/** `sparsetrace report`: the results page of a selection of runs, computed in SQL. */
export function reportCommand(args: ReportArgs): Promise<number> {
  return withDatabase(args.db, (db, dbPath) => {
    const runs = selectRuns(db, args, dbPath);
    warnIncomplete(runs);
    out(formatSelection(db, runs, dbPath, { ...args, taus: parseTauFilter(args.tau), note: log, explicit: (args.runs?.length ?? 0) > 0 }));
    return 0;
  });
}

export const reportCli = defineCommand({
  command: 'report',
  describe: 'the results page, computed in SQL',
  examples: [
    ['$0 report', 'the results page of the last job'],
    ['$0 report --by window --tau 0.01 --format csv > by-window.csv', 'one tidy table, one row per figure, per window'],
    ['$0 report --all --model inputs/sat_model.bin --dmax 50 --format json', 'every run of one model at Dmax 50'],
  ],
  builder: (args) =>
    reportHtmlOptions(selectionOptions(args))
      .option('format', { describe: 'output format (html: the results page with charts, one self-contained file)', choices: [...REPORT_FORMATS, 'html' as const], default: 'text' as ReportFormat | 'html', requiresArg: true })
      .option('by', { describe: 'one row per group of runs', choices: GROUPINGS, requiresArg: true })
      .option('tau', { describe: 'only these thresholds, comma-separated; 0.0178 names 0.0177827941 (the τ it rounds)', type: 'string', requiresArg: true })
      .option('never-tau', { describe: 'τ for the never-active patterns', type: 'number', default: 0.01, requiresArg: true })
      .check((argv) => {
        const neverTau = argv.neverTau as number;
        if (!(Number.isFinite(neverTau) && neverTau > 0)) throw new Error(`--never-tau: must be a number > 0, got ${neverTau}`);
        return true;
      })
      .epilogue(READ_ONLY_NOTE),
  handler: (argv) =>
    argv.format === 'html'
      ? reportHtmlCommand({ ...argv, by: argv.by as Grouping | undefined, runs: argv.run })
      : reportCommand({ ...argv, format: argv.format, by: argv.by as Grouping | undefined, runs: argv.run }),
});
