import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CODE_POINT_MAX_VALUE, codePointsOf } from '../src/store/codePoints.js';
import { codePointSql, sequenceSql } from '../src/store/plainSql.js';
import { docQueries, type DocQuery } from './doc-queries.js';
import { randomModelFile } from './random-model.js';
import { cliHere } from './cli.js';
import { PROJECT_ROOT, REFERENCE_POSITIONS, SHARED_DATA, SHARED_MODEL } from './paths.js';
import {
  type Cell,
  type ClientRows,
  clientProblems,
  closePythonSqlite,
  pythonSqlite,
  quoteText,
  realCell,
  sparsetraceSql,
  sqliteShell,
  sqliteShellExact,
  sqliteShellView,
} from './sql-clients.js';

/**
 * The documented views are plain SQL: any SQLite client (≥ 3.38) reads them,
 * with no sparsetrace function registered, and gets the rows `sparsetrace sql`
 * gets; so do the example queries of README.md and docs/schema.md.
 *
 * The clients are other processes: Debian's sqlite3 shell and Python's sqlite3
 * module, both opening the database read-only; they load no sparsetrace code.
 * The databases are made, and `sparsetrace sql` and `export` run, by the CLI's
 * commands in this process (test/cli.ts cliHere).
 *
 * How rows compare exactly: every client's values become `Cell`s (see
 * sql-clients.ts): integers with every digit, REALs as their 8 IEEE-754 bytes.
 * - The shell renders each view's values in SQL itself (`hex(ieee754_to_blob(x))`
 *   for a REAL), so no decimal printing is involved (the shell's `-json` prints
 *   REALs with `%!.20g`, which is not a promise of exactness in every version).
 * - Python reads a REAL as a double and sends `struct.pack('>d', x)`.
 * - `sparsetrace sql --format json` prints JavaScript's shortest round-trip
 *   decimal, which parses back to the same double.
 * So equal cells are bit-identical values of the same type (JSON alone cannot
 * tell 2.0 from 2: sparsetrace's values are typed by the other clients' rows).
 * The example queries run unchanged; there the shell's `-json` digits are all
 * we have, and a test below checks that this shell's `-json` gives back the
 * exact doubles (and Python's rows are exact anyway).
 */

const problems = clientProblems();
const required = process.env.CI === 'true' || process.env.SPARSETRACE_REQUIRE_SQL_CLIENTS === '1';
if (problems.length > 0 && required) throw new Error(`plain SQL clients: ${problems.join('; ')} (.ci/run installs them)`);
const skip = problems.length > 0 ? `plain SQL clients: ${problems.join('; ')}` : false;

const folder = mkdtempSync(join(tmpdir(), 'sparsetrace-plain-sql-'));
after(async () => {
  await closePythonSqlite();
  rmSync(folder, { recursive: true, force: true });
});
/** The Q1 job on ./inputs, as `sparsetrace run` makes it with no arguments. */
const Q1 = join(folder, 'q1.sqlite');
/** A small run with per-position depth curves, so depth_mass has rows. */
const CURVES = join(folder, 'curves.sqlite');
/** A job of two windows: a cohort, so cohort_pattern_frequency has rows (schema 9). */
const COHORTS = join(folder, 'cohorts.sqlite');
/**
 * The model of CURVES and COHORTS: a random one of 16 neurons, so the pattern
 * views decode rows of another H than the Q1 database's 128, and their 8,448
 * patterns a run (not 82,176) keep the four clients' reads short.
 */
const SMALL_MODEL = join(folder, 'random-h16.bin');
const DATABASES = { q1: Q1, curves: CURVES, cohorts: COHORTS } as const;

/** A sparsetrace command, run in this process (test/cli.ts cliHere); its stdout. */
async function runCli(args: readonly string[]): Promise<string> {
  const result = await cliHere(args);
  assert.equal(result.code, 0, `sparsetrace ${args.join(' ')}: ${result.stderr}`);
  return result.stdout;
}

/** Every file of the folder with its SHA-256: what the readers must leave as it was. */
function folderState(): Record<string, string> {
  return Object.fromEntries(readdirSync(folder).sort().map((name) => [name, createHash('sha256').update(readFileSync(join(folder, name))).digest('hex')]));
}

let stateAfterRuns: Record<string, string> = {};
before(async () => {
  if (skip) return;
  // The shipped inputs from ../shared (a fresh clone has no ./inputs).
  const inputs = ['--model', SHARED_MODEL, '--data', SHARED_DATA];
  await runCli(['run', ...inputs, '--db', Q1, '--no-report']);
  writeFileSync(SMALL_MODEL, randomModelFile(16, 20261207));
  await runCli(['run', '--model', SMALL_MODEL, '--data', SHARED_DATA, '--db', CURVES, '--no-report', '--depth-curves', '--length', '200', '--dmax', '10', '--tau', '1e-3,0.01,0.1']);
  const job = join(folder, 'cohorts.json');
  writeFileSync(job, JSON.stringify({ name: 'cohorts', models: [SMALL_MODEL], data: [{ path: SHARED_DATA, length: 120, stride: 300, count: 2 }], dmax: [10], tau: [0.01, 0.1] }));
  await runCli(['run', job, '--db', COHORTS, '--no-report']);
  stateAfterRuns = folderState();
});

/** Asserts two clients' rows equal, naming the first row that differs (not a diff of 30,000 rows). */
function assertSameRows(actual: ClientRows, expected: ClientRows, what: string): void {
  assert.deepEqual(actual.columns, expected.columns, `${what}: column names`);
  const rows = Math.min(actual.rows.length, expected.rows.length);
  for (let r = 0; r < rows; r++) {
    if (JSON.stringify(actual.rows[r]) !== JSON.stringify(expected.rows[r])) {
      assert.deepEqual(actual.rows[r], expected.rows[r], `${what}: row ${r} (0-based) differs`);
    }
  }
  assert.equal(actual.rows.length, expected.rows.length, `${what}: number of rows`);
}

/** A client call whose error becomes the assertion's message (e.g. "no such table: main.counts_of"). */
function attempt<T>(what: string, call: () => T): T {
  try {
    return call();
  } catch (error) {
    return clientFailed(what, error);
  }
}

/** `attempt` for a call that answers later (sparsetrace sql, run in this process). */
async function attemptLater<T>(what: string, call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (error) {
    return clientFailed(what, error);
  }
}

function clientFailed(what: string, error: unknown): never {
  const [client, ...query] = what.split(': ');
  assert.fail(`${client}: ${(error as Error).message}${query.length > 0 ? `\n  query: ${query.join(': ')}` : ''}`);
}

/** Whether the statement ends in its own ORDER BY (not one inside parentheses: a subquery's, a window's). */
function ordersItsRows(sql: string): boolean {
  let depth = 0;
  let text = '';
  for (let k = 0; k < sql.length; k++) {
    const ch = sql[k];
    if (ch === "'" || ch === '"') {
      const end = sql.indexOf(ch, k + 1);
      k = end < 0 ? sql.length : end;
      text += ' ';
    } else if (ch === '(') depth++;
    else if (ch === ')') depth--;
    else text += depth === 0 ? ch : ' ';
  }
  return /\bORDER\s+BY\b/i.test(text);
}

/** Rows in a canonical order, for statements that leave the order to SQLite. */
function sorted(rows: ClientRows): ClientRows {
  const keyed = rows.rows.map((row) => [JSON.stringify(row), row] as const);
  keyed.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return { columns: rows.columns, rows: keyed.map(([, row]) => row) };
}

interface ViewSpec {
  /** The documented columns (docs/schema.md), in order; undefined: not checked here. */
  readonly columns?: readonly string[];
  /** The view's key: its rows ordered by these, then by every other column. */
  readonly key: readonly string[];
  /** Databases where the view must have rows. */
  readonly rowsIn: readonly (keyof typeof DATABASES)[];
}

const VIEWS: Record<string, ViewSpec> = {
  counts: { columns: ['run_id', 'run_key', 'tau', 'tau_index', 'tau_f32', 't', 'n_x', 'n_h', 'n_y'], key: ['run_id', 'tau_index', 't'], rowsIn: ['q1', 'curves'] },
  positions: { columns: ['run_id', 'run_key', 't', 'y', 'surprisal_bits', 'mass_total', 'peak_d'], key: ['run_id', 't'], rowsIn: ['q1', 'curves'] },
  pattern_peaks: { columns: ['run_id', 'run_key', 'class', 'src', 'dst', 'peak'], key: ['run_id', 'class', 'src', 'dst'], rowsIn: ['q1', 'curves'] },
  depth_mass: { columns: ['run_id', 'run_key', 'd', 't', 'mass'], key: ['run_id', 'd', 't'], rowsIn: ['curves'] },
  // New in schema 4; read from steps since schema 9, with the same columns and rows.
  run_histograms: { columns: ['run_id', 'run_key', 'tau', 'tau_index', 'n', 'positions'], key: ['run_id', 'tau_index', 'n'], rowsIn: ['q1', 'curves', 'cohorts'] },
  // New in schema 7.
  pattern_frequency: { columns: ['run_id', 'run_key', 'class', 'src', 'dst', 'tau', 'positions'], key: ['run_id', 'tau', 'class', 'src', 'dst'], rowsIn: ['q1', 'curves', 'cohorts'] },
  // New in schema 9.
  cohort_pattern_frequency: {
    columns: ['job_id', 'model_key', 'dmax', 'data_path', 'tau', 'class', 'src', 'dst', 'positions'],
    key: ['job_id', 'model_key', 'dmax', 'data_path', 'tau', 'class', 'src', 'dst'],
    rowsIn: ['cohorts'],
  },
};

/** The view's column names as the shell sees them, or a failure that says why there are none. */
function viewColumns(db: string, view: string): string[] {
  const kind = attempt(`sqlite3 shell on ${view}`, () => sqliteShell(db, `SELECT type FROM sqlite_schema WHERE name = ${quoteText(view)}`));
  if (kind.rows.length === 0 || kind.rows[0][0] !== 't:view') {
    const version = sqliteShell(db, 'PRAGMA user_version').rows[0]?.[0];
    assert.fail(`the view ${view} does not exist in a database sparsetrace just made (schema version ${version?.slice(2)}; found: ${kind.rows[0]?.[0] ?? 'nothing'})`);
  }
  // Preparing the view's SELECT: fails here when it needs a function only sparsetrace registers.
  const columns = attempt(`sqlite3 shell reading the view ${view}`, () => sqliteShell(db, `SELECT name FROM pragma_table_info(${quoteText(view)}) ORDER BY cid`));
  return columns.rows.map((row) => (row[0] ?? '').slice(2));
}

describe('the documented views are plain SQL: the sqlite3 shell and Python read the rows sparsetrace sql reads', { skip }, () => {
  for (const [view, spec] of Object.entries(VIEWS)) {
    for (const [name, db] of Object.entries(DATABASES) as [keyof typeof DATABASES, string][]) {
      test(`${view} (${name} database)`, async () => {
        const columns = viewColumns(db, view);
        if (spec.columns) assert.deepEqual(columns, spec.columns, `${view}: the documented columns`);
        const order = [...spec.key, ...columns.filter((column) => !spec.key.includes(column))];
        const query = `SELECT * FROM ${view} ORDER BY ${order.join(', ')}`;

        // The shell reads the view once and prints its rows as given (-json) and exactly.
        const { shell, exact } = attempt(`sqlite3 shell: ${query}`, () => sqliteShellView(db, view, columns, order));
        const python = await attemptLater(`python3 sqlite3: ${query}`, () => pythonSqlite(db, query));
        const ours = await attemptLater(`sparsetrace sql: ${query}`, () => sparsetraceSql(db, query, python));

        if (spec.rowsIn.includes(name)) assert.ok(python.rows.length > 0, `${view} has no rows in the ${name} database`);
        assert.deepEqual(python.columns, columns, `${view}: Python's column names`);
        if (shell.rows.length > 0) assert.deepEqual(shell.columns, columns, `${view}: the shell's column names (-json)`);
        assert.equal(shell.rows.length, python.rows.length, `${view}: rows in the shell (-json)`);
        assertSameRows(exact, python, `${view}: sqlite3 shell vs Python`);
        assertSameRows(ours, python, `${view}: sparsetrace sql vs Python`);
      });
    }
  }
});

describe('the counts a plain client reads are the computed counts', { skip }, () => {
  const COLUMNS = ['run_id', 't', 'tau', 'n_x', 'n_h', 'n_y'];
  const countsRows = (db: string): ClientRows =>
    attempt('sqlite3 shell: counts', () => {
      assert.ok(viewColumns(db, 'counts').length > 0);
      return sqliteShellExact(db, 'counts', COLUMNS, ['run_id', 'tau', 't']);
    });

  for (const [name, db] of Object.entries(DATABASES)) {
    test(`counts through the sqlite3 shell equal export --format ndjson (${name} database)`, async () => {
      const runs = (await pythonSqlite(db, 'SELECT run_id FROM runs ORDER BY run_id')).rows.map((row) => (row[0] ?? '').slice(2));
      assert.equal(runs.length, name === 'cohorts' ? 2 : 1);
      // Run by run, in run_id order (export's rows name no run).
      const expected: Cell[][] = [];
      for (const run of runs) {
        const exported = (await runCli(['export', '--format', 'ndjson', '--db', db, '--run', run]))
          .trimEnd()
          .split('\n')
          .map((line) => JSON.parse(line) as { t: number; y: number; tau: number; n_x: number; n_h: number; n_y: number });
        expected.push(
          ...exported
            .map((row): Cell[] => [`t:${run}`, `i:${row.t}`, realCell(row.tau), `i:${row.n_x}`, `i:${row.n_h}`, `i:${row.n_y}`])
            .sort((a, b) => compareTauT(a, b)),
        );
      }
      const shell = countsRows(db);
      assert.ok(shell.rows.length > 0);
      assertSameRows(shell, { columns: COLUMNS, rows: expected }, `counts (sqlite3 shell) vs export (${name})`);
    });
  }

  test('counts through the sqlite3 shell equal the reference per-position counts of the Q1 job, at every τ of both', () => {
    const lines = readFileSync(REFERENCE_POSITIONS, 'utf8').trimEnd().split('\n');
    assert.equal(lines[0], 't\ty\ttau\tn_x\tn_h\tn_y');
    const reference = new Map<string, string>();
    for (const line of lines.slice(1)) {
      const [t, , tau, nx, nh, ny] = line.split('\t');
      reference.set(`${realCell(Number(tau))} ${t}`, `${nx} ${nh} ${ny}`);
    }
    const shell = countsRows(Q1);
    let compared = 0;
    const taus = new Set<Cell>();
    for (const [, t, tau, nx, nh, ny] of shell.rows) {
      const want = reference.get(`${tau} ${t?.slice(2)}`);
      if (want === undefined) continue;
      assert.equal(`${nx?.slice(2)} ${nh?.slice(2)} ${ny?.slice(2)}`, want, `t=${t?.slice(2)} τ=${tau}`);
      taus.add(tau);
      compared++;
    }
    assert.equal(taus.size, 7, 'the seven τ of the Q1 job');
    assert.equal(compared, reference.size, 'every reference row has its row in counts');
  });
});

/** Orders export rows as `ORDER BY run_id, tau, t` does (one run). */
function compareTauT(a: Cell[], b: Cell[]): number {
  const tau = (cell: Cell) => Number((cell ?? '').split(' ')[1]);
  return tau(a[2]) - tau(b[2]) || Number(a[1]?.slice(2)) - Number(b[1]?.slice(2));
}

const QUERIES: DocQuery[] = [...docQueries(join(PROJECT_ROOT, 'README.md'), 'README.md'), ...docQueries(join(PROJECT_ROOT, 'docs', 'schema.md'), 'docs/schema.md')];
const PLAIN = QUERIES.filter((query) => !query.sparsetraceOnly);
/** Fewer plain example queries than this: the extractor or the docs lost them. */
const MIN_EXAMPLES = 5;

describe('every example query of README.md and docs/schema.md runs unchanged in the sqlite3 shell and in Python', { skip }, () => {
  test(`at least ${MIN_EXAMPLES} example queries are checked (${PLAIN.length} plain, ${QUERIES.length - PLAIN.length} marked "sparsetrace sql only")`, () => {
    assert.ok(PLAIN.length >= MIN_EXAMPLES, `only ${PLAIN.length} example queries found: ${QUERIES.map((query) => query.where).join(', ')}`);
  });

  for (const query of QUERIES) {
    const first = query.sql.split('\n')[0];
    if (query.sparsetraceOnly) {
      test(`${query.where} (sparsetrace sql only) runs in sparsetrace sql: ${first}`, async () => {
        await attemptLater(`sparsetrace sql: ${query.sql}`, () => sparsetraceSql(Q1, query.sql, { columns: [], rows: [] }));
      });
      continue;
    }
    for (const [name, db] of Object.entries(DATABASES)) {
      test(`${query.where} (${name} database): ${first}`, async () => {
        const shell = attempt(`sqlite3 shell: ${query.sql}`, () => sqliteShell(db, query.sql));
        const python = await attemptLater(`python3 sqlite3: ${query.sql}`, () => pythonSqlite(db, query.sql));
        const ours = await attemptLater(`sparsetrace sql: ${query.sql}`, () => sparsetraceSql(db, query.sql, python));
        if (name === 'q1') assert.ok(python.rows.length > 0, 'the example gives rows on the Q1 job');
        assert.equal(new Set(python.columns).size, python.columns.length, `the example names its columns apart: ${python.columns.join(', ')}`);
        // Without its own ORDER BY a statement's rows come in whatever order SQLite picks: compared as sets.
        const canonical = ordersItsRows(query.sql) ? (rows: ClientRows) => rows : sorted;
        assertSameRows(canonical(ours), canonical(python), 'sparsetrace sql vs Python');
        if (shell.rows.length > 0) assertSameRows(canonical(shell), canonical(python), 'sqlite3 shell (-json) vs Python');
        else assert.equal(python.rows.length, 0, 'the sqlite3 shell gave no rows');
      });
    }
  }
});

describe('the clients themselves', { skip }, () => {
  test("the shell's -json prints REALs that give back the exact double (the example queries' comparison relies on it)", async () => {
    const values = ['0.1 + 0.2', '1.0 / 3', '2.0 / 3', '1e-5', '0.009999999776482582', '123456.789', '2.5e-300', '3.0', '-7.25e10', '1e300 * 9.9', '4.9e-324'];
    const sql = `SELECT ${values.map((value, k) => `${value} AS v${k}`).join(', ')}`;
    const python = await pythonSqlite(Q1, sql);
    assertSameRows(sqliteShell(Q1, sql), python, 'literal REALs');
    // And every REAL of the positions view (plain SQL today).
    const query = 'SELECT surprisal_bits, mass_total FROM positions ORDER BY run_id, t';
    assertSameRows(sqliteShell(Q1, query), await pythonSqlite(Q1, query), 'positions: surprisal_bits, mass_total');
  });

  test('a code point array of every width (1 to 6 bytes) reads back in the sqlite3 shell and in Python, as the views read it', async () => {
    const values = [0, 126, 127, 1919, 1920, 53_247, 53_248, 61_437, 61_438, 1_048_575, 1_048_576, 65_994_751, 65_994_752, CODE_POINT_MAX_VALUE];
    for (const largest of values) {
      const array = [0, largest, Math.floor(largest / 3)];
      const blob = `x'${codePointsOf(array).toString('hex')}'`;
      const sql = `SELECT ${codePointSql(blob, String(array.length), 's.key')} AS value FROM ${sequenceSql(String(array.length))} s ORDER BY s.key`;
      const expected = array.map((value) => [String(value)]);
      assert.deepEqual(sqliteShell(Q1, sql).rows.map((row) => row.map((cell) => cell?.replace(/^i:/, '') ?? null)), expected, `shell, largest ${largest}`);
      assert.deepEqual((await pythonSqlite(Q1, sql)).rows.map((row) => row.map((cell) => cell?.replace(/^i:/, '') ?? null)), expected, `python, largest ${largest}`);
    }
  });

  test('the readers changed no file and created none', () => {
    assert.ok(Object.keys(stateAfterRuns).length >= 2);
    assert.deepEqual(folderState(), stateAfterRuns);
  });
});
