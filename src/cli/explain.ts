import type { Argv } from 'yargs';
import { InputError } from '../errors.js';
import { formatExplanation, gatherExplanation } from '../report/explain.js';
import { selectRuns, type Selection } from '../report/select.js';
import { openDatabase } from '../store/index.js';
import { databasePath, defineCommand, selectionOptions } from './common.js';
import { out } from './output.js';

export interface ExplainArgs extends Selection {
  readonly db?: string;
  readonly t: number;
  readonly tau: number;
  readonly format: 'text' | 'json';
  readonly limit: number;
}

export function explainOptions<T>(args: Argv<T>) {
  return args
    .option('t', { describe: 'the position (0-based: predicting byte t+1 of the window)', type: 'number', demandOption: true })
    .option('tau', { describe: 'list the patterns active at this τ', type: 'number', default: 0.01 })
    .option('format', { describe: 'output format', choices: ['text', 'json'] as const, default: 'text' as const })
    .option('limit', { describe: 'text: at most this many patterns (JSON lists all)', type: 'number', default: 50 })
    .epilogue(
      'Recomputes one position with the engine from the run\'s model and data files and lists the\n' +
        'active patterns: class, source, target, the offset d where the attribution peaks, the attribution.\n' +
        'Its counts are printed beside the stored n_x, n_h, n_y at every τ of the run.',
    );
}

/** The one run an explanation is about: --run, or a selection holding a single run. */
export function explainCommand(args: ExplainArgs): number {
  const dbPath = databasePath(args.db);
  const db = openDatabase(dbPath, { readonly: true });
  try {
    const runs = selectRuns(db, args, dbPath);
    if (runs.length > 1) {
      throw new InputError(`explain: the selection holds ${runs.length} runs; pick one with --run ID (see \`sparsetrace runs\`)`);
    }
    out(formatExplanation(gatherExplanation(db, runs[0], args.t, args.tau), args.format, args.limit));
    return 0;
  } finally {
    db.close();
  }
}

export const explainCli = defineCommand({
  command: 'explain',
  describe: 'recompute one position and list its active patterns',
  examples: [
    ['$0 explain --t 955 --tau 0.01', 'the patterns active at position 955 of the last job\'s run'],
    ['$0 explain --run 02e3 --t 10 --format json', 'every active pattern of one position, for scripts'],
  ],
  builder: (args) => explainOptions(selectionOptions(args)),
  handler: (argv) => explainCommand({ ...argv, runs: argv.run }),
});
