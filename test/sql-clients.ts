import { spawn, spawnSync, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { cliHere } from './cli.js';

/**
 * SQL clients that know nothing of sparsetrace: Debian's `sqlite3` shell and
 * Python's `sqlite3` module, each in its own process, opening the database
 * read-only; and, to compare with, `sparsetrace sql` (sparsetrace's own
 * connection, with its SQL functions), run in this process (test/cli.ts
 * cliHere): the clients above load no sparsetrace code.
 *
 * Every client's rows come back in one form, `Cell`, so they compare with
 * `assert.deepEqual`:
 *   null                    SQL NULL
 *   'i:<decimal>'           INTEGER, every digit
 *   'r:<16 hex> <number>'   REAL: its IEEE-754 bits (big-endian), then the
 *                           value for people; equal cells are bit-identical
 *   't:<text>'              TEXT
 *   'b:<HEX>'               BLOB
 */
export type Cell = string | null;

export interface ClientRows {
  readonly columns: string[];
  readonly rows: Cell[][];
}

/** The sqlite3 shell; a missing one is reported by `clientProblems`. */
export const SQLITE3 = process.env.SPARSETRACE_SQLITE3 ?? 'sqlite3';
export const PYTHON3 = process.env.SPARSETRACE_PYTHON3 ?? 'python3';

/** The oldest SQLite whose clients the documented views promise to work with. */
export const MIN_SQLITE = '3.38.0';

/** A REAL's cell from its 8 bytes as 16 hex digits (big-endian). */
export function realCellFromBits(hex: string): Cell {
  const bits = hex.toUpperCase();
  const view = new DataView(new ArrayBuffer(8));
  view.setBigUint64(0, BigInt(`0x${bits}`));
  return `r:${bits} ${view.getFloat64(0)}`;
}

/** A REAL's cell from a JavaScript number (which is exactly a double). */
export function realCell(value: number): Cell {
  const view = new DataView(new ArrayBuffer(8));
  view.setFloat64(0, value);
  return `r:${view.getBigUint64(0).toString(16).toUpperCase().padStart(16, '0')} ${value}`;
}

export class SqlClientError extends Error {}

function spawnText(command: string, args: readonly string[], what: string): string {
  const result = spawnSync(command, args, { encoding: 'utf8', maxBuffer: 256 << 20, env: { ...process.env, LC_ALL: 'C.UTF-8' } });
  if (result.error) throw new SqlClientError(`${what}: ${result.error.message}`);
  if (result.status !== 0 || result.stderr.trim() !== '') {
    throw new SqlClientError(`${what} failed (exit ${result.status}): ${result.stderr.trim() || result.stdout.trim()}`);
  }
  return result.stdout;
}

/** The shell's arguments: no ~/.sqliterc, stop at the first error, read-only. */
const shellArgs = (db: string, mode: string, sql: string): string[] => ['-init', '/dev/null', '-batch', '-bail', '-readonly', mode, db, sql];

/**
 * `sql` run as given in the sqlite3 shell (`-json` output). The shell prints a
 * REAL in JSON mode with `%!.20g` (SQLite 3.40: 20 significant digits), so the
 * cells here are exact only where those digits give back the double: see
 * `sqliteShellExact` for a comparison that does not rely on printing, and the
 * test that checks this shell's printing against it.
 */
export function sqliteShell(db: string, sql: string): ClientRows {
  const stdout = spawnText(SQLITE3, shellArgs(db, '-json', sql), `sqlite3 shell (${SQLITE3})`);
  if (stdout.trim() === '') return { columns: [], rows: [] }; // no rows: the shell prints nothing
  const objects = parseShellJson(stdout);
  const columns = objects.length > 0 ? objects[0].map(([name]) => name) : [];
  return { columns, rows: objects.map((object) => object.map(([, value]) => value)) };
}

/** `SELECT` of `columns` from `source` (AS src), each column rendered by SQL itself as its cell (see sqliteShellExact). */
function exactSelect(source: string, columns: readonly string[]): string {
  const exprs = columns.map((column, k) => {
    const c = `src.${quoteIdent(column)}`;
    return `CASE typeof(${c}) WHEN 'integer' THEN 'i:' || ${c} WHEN 'real' THEN 'r:' || hex(ieee754_to_blob(${c})) ` +
      `WHEN 'text' THEN 't:' || ${c} WHEN 'blob' THEN 'b:' || hex(${c}) END AS c${k}`;
  });
  return `SELECT ${exprs.join(', ')} FROM ${source} AS src`;
}

/** exactSelect's rows as cells. */
function exactRows(columns: readonly string[], rows: Cell[][]): ClientRows {
  return {
    columns: [...columns],
    rows: rows.map((row) =>
      row.map((cell) => {
        if (cell === null) return null;
        const text = cell.slice(2); // every value came back as TEXT: 't:' + our encoding
        return text.startsWith('r:') ? realCellFromBits(text.slice(2)) : text;
      }),
    ),
  };
}

/**
 * `SELECT <columns> FROM <source> ORDER BY <order>` in the sqlite3 shell, each
 * column read exactly: SQL itself renders every value as its cell
 * (`hex(ieee754_to_blob(x))` for a REAL: its 8 bytes, no decimal printing
 * involved; `ieee754_to_blob` is built into the sqlite3 shell), so the
 * comparison does not depend on how this shell prints numbers.
 */
export function sqliteShellExact(db: string, source: string, columns: readonly string[], order: readonly string[]): ClientRows {
  const sql = `${exactSelect(quoteIdent(source), columns)} ORDER BY ${order.map((column) => `src.${quoteIdent(column)}`).join(', ')}`;
  return exactRows(columns, sqliteShell(db, sql).rows);
}

/** A statement between two queries' outputs in one run of the shell, which prints nothing for a query without rows. */
const DELIMITER_NAME = 'sparsetrace:delimiter';
const DELIMITER_LINE = new RegExp(`^\\[\\{"${DELIMITER_NAME}":"next"\\}\\]\\n`, 'm');

/**
 * A view read once by the sqlite3 shell, in one process, and printed twice:
 * `SELECT * FROM <view> ORDER BY <order>` as given (`-json`: sqliteShell's
 * rows) and exactly (sqliteShellExact's rows). Its rows are kept in a TEMP
 * table in memory, in order, between the two (reading a pattern view decodes
 * every row in SQL: the costly part). A TEMP table of `SELECT *` from the view
 * takes each column's affinity from the view's column, so its values keep
 * their types.
 */
export function sqliteShellView(db: string, view: string, columns: readonly string[], order: readonly string[]): { shell: ClientRows; exact: ClientRows } {
  const kept = 'temp.sparsetrace_view_rows';
  const script = [
    'PRAGMA temp_store = MEMORY',
    `CREATE TEMP TABLE sparsetrace_view_rows AS SELECT * FROM ${quoteIdent(view)} ORDER BY ${order.map(quoteIdent).join(', ')}`,
    `SELECT * FROM ${kept} ORDER BY rowid`,
    `SELECT 'next' AS ${quoteIdent(DELIMITER_NAME)}`,
    `${exactSelect(kept, columns)} ORDER BY src.rowid`,
  ].join(';\n');
  const stdout = spawnText(SQLITE3, shellArgs(db, '-json', script), `sqlite3 shell (${SQLITE3})`);
  const parts = stdout.split(DELIMITER_LINE);
  if (parts.length !== 2) throw new SqlClientError(`sqlite3 -json: expected two outputs around one delimiter, got ${parts.length} parts`);
  const [shell, exact] = parts.map((part): ClientRows => {
    if (part.trim() === '') return { columns: [], rows: [] };
    const objects = parseShellJson(part);
    return { columns: objects.length > 0 ? objects[0].map(([name]) => name) : [], rows: objects.map((object) => object.map(([, value]) => value)) };
  });
  return { shell, exact: exactRows(columns, exact.rows) };
}

const PYTHON_SCRIPT = String.raw`
import json, sqlite3, struct, sys, urllib.request
def cell(v):
    if v is None: return None
    if isinstance(v, int): return 'i:' + str(v)
    if isinstance(v, float): return 'r:' + struct.pack('>d', v).hex().upper()
    if isinstance(v, str): return 't:' + v
    return 'b:' + bytes(v).hex().upper()
# One query per line of stdin ({"db", "sql"}), each on a new read-only connection; one answer per line.
for line in sys.stdin:
    request = json.loads(line)
    con = None
    try:
        con = sqlite3.connect('file:' + urllib.request.pathname2url(request['db']) + '?mode=ro', uri=True)
        cur = con.execute(request['sql'])
        columns = [d[0] for d in cur.description] if cur.description else []
        rows = [[cell(v) for v in row] for row in cur]
        answer = {'sqlite_version': sqlite3.sqlite_version, 'columns': columns, 'rows': rows}
    except sqlite3.Error as e:
        answer = {'error': 'sqlite3.%s: %s' % (type(e).__name__, e)}
    finally:
        if con is not None: con.close()
    sys.stdout.write(json.dumps(answer, ensure_ascii=True) + '\n')
    sys.stdout.flush()
`;

/**
 * One Python process answers the queries (its start takes longer than most of
 * them), each on a connection of its own opened for it and closed after; a line
 * on its stderr, or its exit, fails the query as a failed run of Python did.
 */
class PythonClient {
  private readonly child: ChildProcessWithoutNullStreams;
  private stdout = '';
  private stderr = '';
  private exit: string | undefined;
  private readonly waiting: { resolve: (line: string) => void; reject: (error: Error) => void }[] = [];

  constructor() {
    // -I: isolated (no PYTHON* variables, no user site-packages).
    this.child = spawn(PYTHON3, ['-I', '-c', PYTHON_SCRIPT], { env: { ...process.env, LC_ALL: 'C.UTF-8' } });
    this.child.stdout.setEncoding('utf8');
    this.child.stderr.setEncoding('utf8');
    this.child.stdout.on('data', (chunk: string) => {
      this.stdout += chunk;
      for (let end = this.stdout.indexOf('\n'); end >= 0; end = this.stdout.indexOf('\n')) {
        const line = this.stdout.slice(0, end);
        this.stdout = this.stdout.slice(end + 1);
        this.waiting.shift()?.resolve(line);
      }
    });
    this.child.stderr.on('data', (chunk: string) => (this.stderr += chunk));
    const ended = (why: string): void => {
      this.exit ??= why;
      for (const waiter of this.waiting.splice(0)) waiter.reject(this.failure());
    };
    this.child.on('error', (error) => ended(error.message));
    this.child.on('exit', (code, signal) => ended(`exit ${code ?? signal}`));
  }

  /** It exited (after failing a query): the next query starts another. */
  get ended(): boolean {
    return this.exit !== undefined;
  }

  private failure(): SqlClientError {
    return new SqlClientError(`python3 sqlite3 (${PYTHON3}) failed (${this.exit ?? 'stderr'}): ${this.stderr.trim()}`);
  }

  async query(db: string, sql: string): Promise<{ sqlite_version: string; columns: string[]; rows: Cell[][] } | { error: string }> {
    if (this.exit !== undefined) throw this.failure();
    const line = new Promise<string>((resolve, reject) => this.waiting.push({ resolve, reject }));
    this.child.stdin.write(`${JSON.stringify({ db, sql })}\n`);
    const answer = JSON.parse(await line) as { sqlite_version: string; columns: string[]; rows: Cell[][] } | { error: string };
    if (this.stderr.trim() !== '') {
      const failure = this.failure();
      this.stderr = '';
      throw failure;
    }
    return answer;
  }

  close(): Promise<void> {
    if (this.exit !== undefined) return Promise.resolve();
    return new Promise((resolve) => {
      this.child.once('exit', () => resolve());
      this.child.stdin.end();
    });
  }
}

let python: PythonClient | undefined;

/**
 * `sql` run as given by Python's sqlite3 module (`file:…?mode=ro`). Python reads
 * a REAL as a double and the script sends its 8 bytes, so REALs are exact.
 */
export async function pythonSqlite(db: string, sql: string): Promise<ClientRows & { sqliteVersion: string }> {
  if (python === undefined || python.ended) python = new PythonClient();
  const result = await python.query(db, sql);
  if ('error' in result) throw new SqlClientError(`python3 sqlite3 (${PYTHON3}) failed (exit 1): ${result.error}`);
  const rows = result.rows.map((row) => row.map((cell) => (cell !== null && cell.startsWith('r:') ? realCellFromBits(cell.slice(2)) : cell)));
  return { columns: result.columns, rows, sqliteVersion: result.sqlite_version };
}

/** Ends the Python process of pythonSqlite (a test file's `after`). */
export async function closePythonSqlite(): Promise<void> {
  await python?.close();
  python = undefined;
}

/**
 * `sparsetrace sql --format json` (the command, run in this process). Its JSON holds
 * numbers in JavaScript's shortest round-trip form, so a REAL parses back to the
 * same double. JSON cannot tell 2.0 from 2 nor −0 from 0, nor hold a BLOB
 * (base64) or an integer beyond 2^53 (a string): `like` (another client's rows
 * of the same query, which know the types) says which each value is, and the
 * value itself is then compared exactly.
 */
export async function sparsetraceSql(db: string, sql: string, like: ClientRows): Promise<ClientRows> {
  const run = async (format: string): Promise<string> => {
    const result = await cliHere(['sql', '--format', format, '--db', db, sql]);
    if (result.code !== 0 || result.stderr.trim() !== '') {
      throw new SqlClientError(`sparsetrace sql failed (exit ${result.code}): ${result.stderr.trim() || result.stdout.trim()}`);
    }
    return result.stdout;
  };
  const objects = JSON.parse(await run('json')) as Record<string, unknown>[];
  // No rows, no JSON keys: the CSV header names the columns.
  const columns = objects.length > 0 ? Object.keys(objects[0]) : csvHeader(await run('csv'));
  const rows = objects.map((object, r) =>
    Object.values(object).map((value, k) => sparsetraceCell(value, like.rows[r]?.[k] ?? null)),
  );
  return { columns, rows };
}

function sparsetraceCell(value: unknown, like: Cell): Cell {
  if (value === null) return null;
  if (typeof value === 'number') {
    if (like?.startsWith('i:') && Number.isSafeInteger(value)) return `i:${value}`;
    if (value === 0 && like?.startsWith('r:8000000000000000')) return like; // -0.0: JSON prints 0
    return realCell(value);
  }
  if (typeof value === 'string') {
    if (like?.startsWith('i:') && /^-?\d+$/.test(value)) return `i:${value}`; // beyond 2^53
    if (like?.startsWith('b:')) return `b:${Buffer.from(value, 'base64').toString('hex').toUpperCase()}`;
    return `t:${value}`;
  }
  return `?:${JSON.stringify(value)}`;
}

/** The first line of CSV (RFC 4180 quoting), as its fields. */
function csvHeader(csv: string): string[] {
  const fields: string[] = [];
  const field = /("(?:[^"]|"")*"|[^,\n]*)(,|\n|$)/y;
  for (;;) {
    const match = field.exec(csv);
    if (!match) break;
    fields.push(match[1].startsWith('"') ? match[1].slice(1, -1).replaceAll('""', '"') : match[1]);
    if (match[2] !== ',') break;
  }
  return fields;
}

export function quoteIdent(name: string): string {
  return `"${name.replaceAll('"', '""')}"`;
}

/** A string as a SQL literal. */
export function quoteText(text: string): string {
  return `'${text.replaceAll("'", "''")}'`;
}

/**
 * The shell's `-json` output: an array of objects, each a list of
 * [column, cell] in column order. A small parser rather than JSON.parse, to keep
 * what JSON.parse loses: whether a number was printed as an integer (`2`) or a
 * REAL (`2.0`, `1e-05`, `1e999` for infinity), and every digit of an integer.
 */
export function parseShellJson(text: string): [string, Cell][][] {
  const token = /\s*(?:([[\]{}:,])|("(?:[^"\\]|\\.)*")|(-?\d[\d.eE+-]*)|(null))/y;
  let position = 0;
  const next = (): { punct?: string; string?: string; number?: string; null?: true } => {
    token.lastIndex = position;
    const match = token.exec(text);
    if (!match) throw new SqlClientError(`sqlite3 -json: cannot read the output at ${position}: ${text.slice(position, position + 40)}`);
    position = token.lastIndex;
    if (match[1]) return { punct: match[1] };
    if (match[2]) return { string: JSON.parse(match[2]) as string };
    if (match[3]) return { number: match[3] };
    return { null: true };
  };
  const expect = (punct: string): void => {
    const got = next();
    if (got.punct !== punct) throw new SqlClientError(`sqlite3 -json: expected ${punct} at ${position}`);
  };
  const value = (): Cell => {
    const got = next();
    if (got.null) return null;
    if (got.string !== undefined) return `t:${got.string}`;
    if (got.number !== undefined) return /^-?\d+$/.test(got.number) ? `i:${BigInt(got.number)}` : realCell(Number(got.number));
    throw new SqlClientError(`sqlite3 -json: unexpected ${got.punct} at ${position}`);
  };
  const rows: [string, Cell][][] = [];
  expect('[');
  for (;;) {
    const start = next();
    if (start.punct === ']') break;
    if (start.punct === ',') continue;
    if (start.punct !== '{') throw new SqlClientError(`sqlite3 -json: expected an object at ${position}`);
    const row: [string, Cell][] = [];
    for (;;) {
      const key = next();
      if (key.punct === '}') break;
      if (key.punct === ',') continue;
      if (key.string === undefined) throw new SqlClientError(`sqlite3 -json: expected a column name at ${position}`);
      expect(':');
      row.push([key.string, value()]);
    }
    rows.push(row);
  }
  return rows;
}

/** a < b for dotted versions. */
export function versionBelow(a: string, b: string): boolean {
  const [x, y] = [a, b].map((version) => version.split('.').map(Number));
  for (let k = 0; k < Math.max(x.length, y.length); k++) {
    if ((x[k] ?? 0) !== (y[k] ?? 0)) return (x[k] ?? 0) < (y[k] ?? 0);
  }
  return false;
}

/**
 * What is missing for these tests: the sqlite3 shell, python3 with its sqlite3
 * module, or a SQLite older than MIN_SQLITE in either. Empty when all is there.
 */
export function clientProblems(): string[] {
  const problems: string[] = [];
  const shell = spawnSync(SQLITE3, ['-version'], { encoding: 'utf8' });
  if (shell.error || shell.status !== 0) problems.push(`the sqlite3 shell (${SQLITE3}) is not installed (apt-get install -y sqlite3)`);
  else {
    const version = shell.stdout.split(' ')[0];
    if (versionBelow(version, MIN_SQLITE)) problems.push(`the sqlite3 shell is SQLite ${version}, older than ${MIN_SQLITE}`);
  }
  const python = spawnSync(PYTHON3, ['-I', '-c', 'import json, sqlite3, struct; print(sqlite3.sqlite_version)'], { encoding: 'utf8' });
  if (python.error || python.status !== 0) problems.push(`python3 (${PYTHON3}) with its sqlite3 module is not installed (apt-get install -y python3)`);
  else {
    const version = python.stdout.trim();
    if (versionBelow(version, MIN_SQLITE)) problems.push(`python3's sqlite3 module uses SQLite ${version}, older than ${MIN_SQLITE}`);
  }
  return problems;
}
