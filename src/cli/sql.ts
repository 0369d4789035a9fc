import { InputError } from '../errors.js';
import { csvCell, renderText } from '../report/table.js';
import { adHocQuery } from '../store/index.js';
import { dbOption, defineCommand, READ_ONLY_NOTE, lockForWriting, withDatabase } from './common.js';
import { log, out } from './output.js';

export interface SqlArgs {
  readonly db?: string;
  readonly query: string;
  readonly format: 'text' | 'json' | 'csv';
  readonly write: boolean;
  readonly wait?: boolean;
}

/** `sparsetrace sql`: any SQL statement on the database, read-only unless --write. */
export function sqlCommand(args: SqlArgs): Promise<number> {
  return withDatabase(
    args.db,
    async (db, dbPath) => {
      let result: { columns: string[]; rows: unknown[][] };
      // A write takes the writer lock like a run: it waits (--wait) or is refused while another process writes.
      const release = args.write ? await lockForWriting(db, dbPath, args.wait ?? false) : undefined;
      try {
        result = adHocQuery(db, args.query);
      } catch (error) {
        const code = (error as { code?: string }).code ?? '';
        if (!/^SQLITE_(ERROR|READONLY|CONSTRAINT|MISMATCH|RANGE|AUTH|TOOBIG)/.test(code) && !(error instanceof RangeError) && !(error instanceof TypeError)) throw error;
        throw new InputError(`sql: ${(error as Error).message}${/readonly/i.test((error as Error).message) ? ' (the database is opened read-only; pass --write to change it)' : ''}`);
      } finally {
        release?.();
      }
      const { columns, rows } = result;
      if (args.format === 'json') {
        out(`${JSON.stringify(rows.map((row) => Object.fromEntries(columns.map((column, k) => [column, toJsonValue(row[k])]))), null, 1)}\n`);
      } else if (args.format === 'csv') {
        out([columns.map(csvCell).join(','), ...rows.map((row) => row.map(csvCell).join(','))].join('\n') + '\n');
      } else if (columns.length > 0) {
        out(renderText({ columns, rows: rows.map((row) => row.map((cell) => (cell === null ? 'NULL' : String(cell)))), alignRight: columns.map((_, k) => rows.every((row) => typeof row[k] === 'number' || typeof row[k] === 'bigint')) }));
        log(`(${rows.length} row${rows.length === 1 ? '' : 's'})`);
      }
      return 0;
    },
    { readonly: !args.write, mustExist: true },
  );
}

function toJsonValue(value: unknown): unknown {
  if (typeof value === 'bigint') return Number(value);
  if (Buffer.isBuffer(value)) return value.toString('base64');
  return value;
}

export const sqlCli = defineCommand({
  command: 'sql <query>',
  describe: 'any SQL query on the database (docs/schema.md)',
  builder: (args) =>
    args
      .positional('query', { describe: 'the SQL statement', type: 'string', demandOption: true })
      .option('db', dbOption)
      .option('format', { describe: 'output format', choices: ['text', 'json', 'csv'] as const, default: 'text' as const })
      .option('write', { describe: 'open the database for writing (takes the writer lock, like run)', type: 'boolean', default: false })
      .option('wait', { describe: 'with --write: wait for another writer to finish instead of failing', type: 'boolean', default: false })
      .epilogue(`Without --write: ${READ_ONLY_NOTE.charAt(0).toLowerCase()}${READ_ONLY_NOTE.slice(1)}`),
  handler: (argv) => sqlCommand(argv),
});
