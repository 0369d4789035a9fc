import { InputError } from '../errors.js';
import { formatTau } from '../report/format.js';
import { columnWidths, csvCell, textLine } from '../report/table.js';
import { closeSync, openSync, readSync, statSync } from 'node:fs';
import { resolve } from 'node:path';
import { attachReadOnly, type Db } from '../store/index.js';
import { lockForWriting, withDatabase } from './database.js';
import { log, out } from './output.js';

/** The formats `sql --format` offers (SQL_FORMATS in commands.ts lists them). */
export type SqlFormat = 'text' | 'json' | 'ndjson' | 'csv';

export interface SqlArgs {
  readonly db?: string;
  readonly query: string;
  readonly format: SqlFormat;
  readonly write: boolean;
  readonly wait?: boolean;
  /** NAME=FILE: other databases to read beside this one, as NAME.table (read-only). */
  readonly attach?: readonly string[];
}

/** A database to attach: the schema name it is read under, and its file. */
interface Attachment {
  readonly name: string;
  readonly path: string;
}

/** Names SQLite gives the connection's own databases. */
const RESERVED_SCHEMAS = new Set(['main', 'temp']);

/**
 * `--attach NAME=FILE`, checked before anything is opened: NAME a plain SQL
 * identifier (letters, digits, _; not main or temp; each once), FILE an
 * existing SQLite file. Attached files are always read-only, so --write is refused with them.
 */
export function parseAttachments(specs: readonly string[], write: boolean): Attachment[] {
  if (specs.length > 0 && write) {
    throw new InputError('--attach: attached databases are read-only, so --attach works without --write only (write to one database at a time, with its own lock)');
  }
  const seen = new Set<string>();
  return specs.map((spec) => {
    const at = spec.indexOf('=');
    const name = at < 0 ? '' : spec.slice(0, at);
    const path = at < 0 ? '' : spec.slice(at + 1);
    if (at < 0 || path === '') throw new InputError(`--attach ${spec}: give NAME=FILE (e.g. --attach old=results/old.sqlite, then SELECT … FROM old.runs)`);
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(name)) throw new InputError(`--attach ${spec}: the name ${JSON.stringify(name)} must be letters, digits and _ (not starting with a digit)`);
    if (RESERVED_SCHEMAS.has(name.toLowerCase())) throw new InputError(`--attach ${spec}: ${name} names the database itself in SQL; choose another name`);
    if (seen.has(name.toLowerCase())) throw new InputError(`--attach ${spec}: the name ${name} is given twice; give each file its own name`);
    seen.add(name.toLowerCase());
    let regular: boolean;
    try {
      regular = statSync(path).isFile();
    } catch {
      throw new InputError(`--attach ${spec}: ${path}: no such file`);
    }
    if (!regular) throw new InputError(`--attach ${spec}: ${path}: not a regular file`);
    if (!isSqliteFile(path)) throw new InputError(`--attach ${spec}: ${path}: not a SQLite database`);
    return { name, path: resolve(path) };
  });
}

/** Whether a file starts with SQLite's header (an empty file is not a database here: attaching would not make it one). */
function isSqliteFile(path: string): boolean {
  const header = Buffer.alloc(16);
  let fd: number | undefined;
  try {
    fd = openSync(path, 'r');
    return readSync(fd, header, 0, 16, 0) === 16 && header.equals(Buffer.from('SQLite format 3\0'));
  } catch {
    return false;
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

/** Rows a text table sizes its columns from; later rows keep those widths. */
const SAMPLE_ROWS = 1000;
/** Rows per write to stdout. */
const CHUNK_ROWS = 1000;

/**
 * SQLite errors that are the statement's fault, not the environment's: bad SQL,
 * a write without --write, a file the statement names that cannot be opened
 * (`ATTACH '/missing.db'`; the database itself is open already).
 */
const STATEMENT_ERRORS = /^SQLITE_(ERROR|READONLY|CONSTRAINT|MISMATCH|RANGE|AUTH|TOOBIG|CANTOPEN)/;

/** Why a statement that writes is refused: the connection is read-only (and with --attach, so are the attached files). */
const readOnlyHint = (attached: boolean): string =>
  attached ? ' (the database and the --attach files are opened read-only; pass --write, without --attach, to change the database)' : ' (the database is opened read-only; pass --write to change it)';

/** Whether a statement is a PRAGMA (after any leading comments). */
function isPragma(query: string): boolean {
  return /^PRAGMA\b/i.test(query.replace(/^(\s+|--[^\n]*(\n|$)|\/\*[\s\S]*?\*\/)*/, ''));
}

function statementError(error: unknown, attached = false): unknown {
  const code = (error as { code?: string }).code ?? '';
  if (!STATEMENT_ERRORS.test(code) && !(error instanceof RangeError) && !(error instanceof TypeError)) return error;
  const message = (error as Error).message;
  const hint = readOnlyHint(attached);
  return new InputError(`sql: ${message}${/readonly/i.test(message) ? hint : ''}`);
}

/**
 * SQL functions for typing thresholds: `tau_label(tau)` is τ as the reports print
 * it (the fewest digits that identify its float32), `sig(x, n)` rounds to n
 * significant digits, so `WHERE sig(tau, 3) = 0.0178` finds 0.0177827941004.
 */
function registerFunctions(db: Db): void {
  db.function('tau_label', { deterministic: true }, (value: unknown) => (typeof value === 'number' ? formatTau(value) : null));
  db.function('sig', { deterministic: true }, (value: unknown, digits: unknown) =>
    typeof value === 'number' && typeof digits === 'number' && digits >= 1 && digits <= 17 ? Number(value.toPrecision(Math.floor(digits))) : null,
  );
}

function toJsonValue(value: unknown): unknown {
  // Integers are read exactly (safeIntegers); one beyond 2^53 stays exact as a string.
  if (typeof value === 'bigint') return Number.isSafeInteger(Number(value)) ? Number(value) : String(value);
  if (Buffer.isBuffer(value)) return value.toString('base64');
  return value;
}

const textCell = (cell: unknown): string => (cell === null ? 'NULL' : Buffer.isBuffer(cell) ? `x'${cell.toString('hex')}'` : String(cell));

/**
 * Writes rows as they come from SQLite, in chunks: memory holds one chunk (and
 * for text, the sample that sizes the columns), whatever the number of rows.
 * Returns the number of rows.
 */
export function writeRows(columns: readonly string[], rows: Iterable<unknown[]>, format: SqlFormat, write: (text: string) => void): number {
  const iterator = rows[Symbol.iterator]();
  try {
    return streamRows(columns, iterator, format, write);
  } finally {
    // Stopped early (a closed pipe): release the statement so the database can close.
    iterator.return?.();
  }
}

function streamRows(columns: readonly string[], iterator: Iterator<unknown[]>, format: SqlFormat, write: (text: string) => void): number {
  let count = 0;
  let chunk: string[] = [];
  const flush = (): void => {
    if (chunk.length > 0) write(chunk.join(''));
    chunk = [];
  };
  const push = (line: string): void => {
    chunk.push(line);
    if (chunk.length >= CHUNK_ROWS) flush();
  };
  if (format === 'text') {
    const sample: unknown[][] = [];
    let next = iterator.next();
    while (!next.done && sample.length < SAMPLE_ROWS) {
      sample.push(next.value);
      next = iterator.next();
    }
    const sampleCells = sample.map((row) => row.map(textCell));
    const widths = columnWidths(columns, sampleCells);
    const right = columns.map((_, k) => sample.length > 0 && sample.every((row) => typeof row[k] === 'number' || typeof row[k] === 'bigint'));
    push(`${textLine(columns, widths, right)}\n${widths.map((w) => '-'.repeat(w)).join('  ')}\n`);
    for (const cells of sampleCells) push(`${textLine(cells, widths, right)}\n`);
    count = sample.length;
    for (; !next.done; next = iterator.next()) {
      push(`${textLine(next.value.map(textCell), widths, right)}\n`);
      count++;
    }
  } else if (format === 'csv') {
    push(`${columns.map(csvCell).join(',')}\n`);
    for (let next = iterator.next(); !next.done; next = iterator.next()) {
      push(`${next.value.map((cell) => csvCell(Buffer.isBuffer(cell) ? cell.toString('base64') : cell)).join(',')}\n`);
      count++;
    }
  } else {
    const object = (row: unknown[]): string => JSON.stringify(Object.fromEntries(columns.map((column, k) => [column, toJsonValue(row[k])])));
    if (format === 'json') push('[');
    for (let next = iterator.next(); !next.done; next = iterator.next()) {
      push(format === 'json' ? `${count === 0 ? '\n' : ',\n'}${object(next.value)}` : `${object(next.value)}\n`);
      count++;
    }
    if (format === 'json') push(count === 0 ? ']\n' : '\n]\n');
  }
  flush();
  return count;
}

/** `sparsetrace sql`: any SQL statement on the database, rows streamed; read-only unless --write. */
export function sqlCommand(args: SqlArgs): Promise<number> {
  const attachments = parseAttachments(args.attach ?? [], args.write);
  return withDatabase(
    args.db,
    async (db, dbPath) => {
      registerFunctions(db);
      for (const { name, path } of attachments) attachReadOnly(db, name, path);
      // A write takes the writer lock like a run: it waits (--wait) or is refused while another process writes.
      const release = args.write ? await lockForWriting(db, dbPath, args.wait ?? false) : undefined;
      try {
        let statement;
        try {
          statement = db.prepare(args.query);
          // What SQLite counts as writing (sqlite3_stmt_readonly) waits for --write, whatever file it
          // writes: `VACUUM INTO 'copy'` writes a new file through a read-only connection. PRAGMAs
          // (`PRAGMA journal_mode` reads as a write) are left to the read-only connection to refuse.
          if (!args.write && !statement.readonly && !isPragma(args.query)) throw new InputError(`sql: the statement writes${readOnlyHint(attachments.length > 0)}`);
          if (!statement.reader) {
            const { changes } = statement.run();
            log(`(${changes} row${changes === 1 ? '' : 's'} changed)`);
            return 0;
          }
        } catch (error) {
          throw statementError(error, attachments.length > 0);
        }
        const columns = statement.columns().map((column) => column.name);
        let count: number;
        try {
          count = writeRows(columns, statement.raw(true).safeIntegers(true).iterate() as Iterable<unknown[]>, args.format, out);
        } catch (error) {
          throw statementError(error, attachments.length > 0);
        }
        if (args.format === 'text') log(`(${count} row${count === 1 ? '' : 's'})`);
        return 0;
      } finally {
        release?.();
      }
    },
    { readonly: !args.write, mustExist: true, snapshot: false },
  );
}
