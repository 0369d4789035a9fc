import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { SCHEMA_VERSION } from '../src/store/index.js';
import { codePointsOf } from '../src/store/codePoints.js';
import { decodeSteps } from '../src/store/histogram.js';
import { cliHere, expectedOverviews, PROJECT_ROOT, runJobSpec, SHARED, SHARED_DATA, SHARED_MODEL, temporaryFolder } from './cli.js';

/**
 * test/fixtures/v1 holds a database written by sparsetrace 0.1.0 and what 0.1.0
 * printed for it (scripts/make-fixture.sh): a finished job of four runs of a
 * small model, and the sat-rnn run killed part way.
 */
const FIXTURE = join(PROJECT_ROOT, 'test', 'fixtures', 'v1');
const PARTIAL_RUN = '1fbae2ca0d216c90';
const folder = temporaryFolder('migrate');
const db = join(folder.path, 'v1.sqlite');
const expected = (name: string): string => readFileSync(join(FIXTURE, name), 'utf8');

/** Copies a fixture database; it was made beside /work/shared, so its paths are pointed at this checkout's ../shared. */
function copyFixture(from: string, to: string): void {
  copyFileSync(from, to);
  const handle = new Database(to);
  // Every table that names a data file (schema 8's cohorts too, whose keys must keep matching their runs'),
  // with the foreign keys off while a cohort's key and its rows' change one table at a time.
  handle.pragma('foreign_keys = OFF');
  const dataPathTables = handle
    .prepare(`SELECT m.name FROM sqlite_schema m, pragma_table_info(m.name) c WHERE m.type = 'table' AND c.name = 'data_path'`)
    .pluck()
    .all() as string[];
  const columns = [...dataPathTables.map((table) => [table, 'data_path']), ['models', 'path'], ['jobs', 'spec_json']];
  for (const [table, column] of columns) {
    handle.prepare(`UPDATE ${table} SET ${column} = replace(${column}, '/work/shared', ?)`).run(SHARED);
  }
  handle.close();
}

before(() => copyFixture(join(FIXTURE, 'v1.sqlite3'), db));
after(() => folder.remove());

describe('sparsetrace migrate', () => {
  test('reading commands refuse a 0.1.0 database and name the command that upgrades it', async () => {
    const report = await cliHere(['report', '--db', db]);
    assert.equal(report.code, 2);
    assert.match(report.stderr, /written by sparsetrace 0\.1\.0; upgrade it once with `sparsetrace migrate --db /);
  });

  test('upgrades in place; report, report --by window and export print what 0.1.0 printed', async () => {
    const migrate = await cliHere(['migrate', '--db', db]);
    assert.equal(migrate.code, 0, migrate.stderr);
    assert.match(migrate.stderr, new RegExp(`upgraded from schema version 1 to ${SCHEMA_VERSION}`));
    // The job mixes Dmax 5 and 25, which a report now groups unless the runs are named: name them, as 0.1.0 pooled them.
    const listed = await cliHere(['sql', `SELECT r.run_id FROM jobs j JOIN job_runs jr USING (job_id) JOIN runs r USING (run_key) WHERE j.name = 'small' ORDER BY jr.run_order`, '--db', db, '--format', 'json']);
    const small = (JSON.parse(listed.stdout) as { run_id: string }[]).flatMap((row) => ['--run', row.run_id]);
    const text = await cliHere(['report', '--db', db, ...small]);
    assert.equal(text.stdout, expected('report-small.txt'));
    const json = await cliHere(['report', '--db', db, ...small, '--format', 'json']);
    assert.deepEqual(JSON.parse(json.stdout), JSON.parse(expected('report-small.json')));
    // 0.1.0 pooled Dmax 5 and 25 inside a window; --pool asks for that.
    const byWindow = await cliHere(['report', '--db', db, '--job', 'small', '--by', 'window', '--pool', '--format', 'json']);
    assert.deepEqual(JSON.parse(byWindow.stdout), JSON.parse(expected('report-small-by-window.json').replaceAll('/work/shared', SHARED)));
    const exported = await cliHere(['export', '--db', db, '--job', 'small', '--all']);
    assert.equal(exported.stdout, expected('export-small.csv'));
    const again = await cliHere(['migrate', '--db', db]);
    assert.equal(again.code, 0);
    assert.match(again.stderr, new RegExp(`already at schema version ${SCHEMA_VERSION}; nothing to do`));
  });

  test("resumes the run 0.1.0 left unfinished to the rows of a fresh run of the same job", async () => {
    const resume = await cliHere(['resume', '--db', db, '--no-report']);
    assert.equal(resume.code, 0, resume.stderr);
    const fresh = join(folder.path, 'fresh.sqlite');
    // 0.1.0 kept every depth curve, so the migrated run keeps them: compare with a run that does too.
    const run = await cliHere(['run', '--model', SHARED_MODEL, '--data', SHARED_DATA, '--length', '1024', '--tau', '0.01,0.1', '--depth-curves', '--db', fresh, '--no-report']);
    assert.equal(run.code, 0, run.stderr);
    const rows = async (path: string): Promise<unknown> => {
      const query = async (sql: string): Promise<string> => {
        const result = await cliHere(['sql', sql, '--db', path, '--format', 'json']);
        assert.equal(result.code, 0, result.stderr);
        return result.stdout;
      };
      return [
        await query(`SELECT t, y, surprisal_bits, mass_total, peak_d FROM positions WHERE run_id = '${PARTIAL_RUN}' ORDER BY t`),
        await query(`SELECT tau, t, n_x, n_h, n_y FROM counts WHERE run_id = '${PARTIAL_RUN}' ORDER BY tau, t`),
        await query(`SELECT d, t, mass FROM depth_mass WHERE run_id = '${PARTIAL_RUN}' ORDER BY d, t`),
        await query(`SELECT class, src, dst, peak FROM pattern_peaks WHERE run_id = '${PARTIAL_RUN}' ORDER BY class, src, dst`),
        await query(`SELECT status, positions FROM runs WHERE run_id = '${PARTIAL_RUN}'`),
        (await cliHere(['report', '--db', path, '--run', PARTIAL_RUN, '--format', 'json'])).stdout,
      ];
    };
    assert.deepEqual(await rows(db), await rows(fresh));
  });
});

/**
 * test/fixtures/v2 holds a database written with schema 2 (one count row per
 * position and τ, one Wy peak row per output; commit 81975a6), test/fixtures/v3
 * one written with schema 3 (count blocks of uint16, every position's n sorted per
 * run; commit 1541bb6), test/fixtures/v4 one written with schema 4 (code point
 * arrays, plain-SQL views; commit 064ef5f), test/fixtures/v5 one written with
 * schema 5 (runs.rule; commit 92f4ad6), test/fixtures/v6 one written with
 * schema 6 (runs.burn_in; commit cebcf11), and what each version printed for it:
 * the same two jobs as the 0.1.0 fixture.
 */
/** A fresh run of the job whose run the v2–v5 fixtures left unfinished: one command line for all four, so computed once. */
let freshRun: Promise<string> | undefined;
function freshDatabase(): Promise<string> {
  freshRun ??= (async () => {
    const fresh = join(folder.path, 'fresh-v2-v5.sqlite');
    const run = await cliHere(['run', '--model', SHARED_MODEL, '--data', SHARED_DATA, '--length', '1024', '--tau', '0.01,0.1', '--db', fresh, '--no-report']);
    assert.equal(run.code, 0, run.stderr);
    return fresh;
  })();
  return freshRun;
}

for (const version of [2, 3, 4, 5, 6]) describe(`sparsetrace migrate from schema ${version}`, () => {
  const fixture = join(PROJECT_ROOT, 'test', 'fixtures', `v${version}`);
  const old = join(folder.path, `v${version}.sqlite`);
  const expectedOf = (name: string): string => readFileSync(join(fixture, name), 'utf8');

  before(() => copyFixture(join(fixture, `v${version}.sqlite3`), old));

  test('upgrades in place; report, report --by window, export and the unfinished run print what that schema printed', async () => {
    const report = await cliHere(['report', '--db', old]);
    assert.equal(report.code, 2);
    assert.match(report.stderr, /written by an earlier sparsetrace; upgrade it once with `sparsetrace migrate --db /);
    const migrate = await cliHere(['migrate', '--db', old]);
    assert.equal(migrate.code, 0, migrate.stderr);
    assert.match(migrate.stderr, new RegExp(`upgraded from schema version ${version} to ${SCHEMA_VERSION}`));
    const text = await cliHere(['report', '--db', old, '--job', 'small']);
    assert.equal(text.stdout, expectedOf('report-small.txt').replaceAll(`/work/main/test/fixtures/v${version}/v${version}.sqlite3`, old));
    const json = await cliHere(['report', '--db', old, '--job', 'small', '--format', 'json']);
    assert.deepEqual(JSON.parse(json.stdout), JSON.parse(expectedOf('report-small.json').replaceAll(`/work/main/test/fixtures/v${version}/v${version}.sqlite3`, old)));
    const byWindow = await cliHere(['report', '--db', old, '--job', 'small', '--by', 'window', '--pool', '--format', 'json']);
    assert.deepEqual(JSON.parse(byWindow.stdout), JSON.parse(expectedOf('report-small-by-window.json').replaceAll('/work/shared', SHARED)));
    assert.equal((await cliHere(['export', '--db', old, '--job', 'small', '--all'])).stdout, expectedOf('export-small.csv'));
    const partial = await cliHere(['report', '--db', old, '--all', '--model', SHARED_MODEL, '--format', 'json']);
    assert.deepEqual(JSON.parse(partial.stdout), JSON.parse(expectedOf('report-partial.json').replaceAll(`/work/main/test/fixtures/v${version}/v${version}.sqlite3`, old).replaceAll('/work/shared', SHARED)));
  });

  test('the unfinished run resumes to the rows of a fresh run', async () => {
    const resume = await cliHere(['resume', '--db', old, '--no-report']);
    assert.equal(resume.code, 0, resume.stderr);
    const fresh = await freshDatabase();
    const rows = async (path: string): Promise<string[]> => {
      const results: string[] = [];
      for (const sql of [
        `SELECT t, y, surprisal_bits, mass_total, peak_d FROM positions WHERE run_id = '${PARTIAL_RUN}' ORDER BY t`,
        `SELECT tau, t, n_x, n_h, n_y FROM counts WHERE run_id = '${PARTIAL_RUN}' ORDER BY tau, t`,
        `SELECT class, src, dst, peak FROM pattern_peaks WHERE run_id = '${PARTIAL_RUN}' ORDER BY class, src, dst`,
        `SELECT s.tau_index, s.positions, s.sum_x, s.sum_h, s.sum_y, s.min_n, s.median_n, s.max_n, s.distinct_n, hex(s.hist_steps), hex(s.hist_large), hex(s.hist_positions) FROM run_tau_stats s JOIN runs USING (run_key) WHERE run_id = '${PARTIAL_RUN}' ORDER BY s.tau_index`,
      ]) {
        const result = await cliHere(['sql', sql, '--db', path, '--format', 'json']);
        assert.equal(result.code, 0, result.stderr);
        results.push(result.stdout);
      }
      return results;
    };
    assert.deepEqual(await rows(old), await rows(fresh));
  });
});

/** The columns each upgrade adds at the end of `runs`, with every earlier run's value: schema 5 runs.rule, schema 6 runs.burn_in. */
const ADDED_RUN_COLUMNS: Record<number, readonly (readonly [string, unknown])[]> = { 4: [['rule', 'q1'], ['burn_in', 0]], 5: [['burn_in', 0]] };

/** Every row of every table but the lock and the WAL link (which every writer sets), as sorted JSON lines per table. */
function rowsOf(file: string): Map<string, string[]> {
  const handle = new Database(file, { readonly: true });
  try {
    const tables = handle.prepare(`SELECT name FROM sqlite_schema WHERE type = 'table' AND name NOT IN ('writer_lock', 'wal_guard') ORDER BY name`).pluck().all() as string[];
    const text = (value: unknown): unknown => (Buffer.isBuffer(value) ? value.toString('hex') : value);
    return new Map(tables.map((table) => [table, (handle.prepare(`SELECT * FROM "${table}"`).raw().all() as unknown[][]).map((row) => JSON.stringify(row.map(text))).sort()]));
  } finally {
    handle.close();
  }
}

/** Checks a migrated file's `run_overview` rows (`after`, from rowsOf) against expectedOverviews, then leaves them out of `after`. */
function checkedOverviews(after: Map<string, string[]>, file: string): void {
  const rows = after.get('run_overview');
  assert.ok(rows !== undefined && rows.length > 0, 'run_overview has rows');
  assert.deepEqual(rows, expectedOverviews(file), 'run_overview: every finished run, from its own rows');
  after.delete('run_overview');
}

/**
 * Schema 9 keeps histograms of n as steps (hist_steps, hist_large) where schema 4 to 8
 * kept their values (hist_n): the rows of `table` with theirs decoded and encoded as
 * schema 8 had them, so every other column and the values themselves compare as they are.
 */
function withValueHistograms(rows: Map<string, string[]>, table: 'run_tau_stats' | 'cohort_tau_stats'): void {
  // Columns before distinct_n: run_key, tau_index (run) or job_id, model_key, dmax, data_path, tau_index, tau (cohort); then 6 figures.
  const distinctAt = (table === 'run_tau_stats' ? 2 : 6) + 7;
  const converted = (rows.get(table) ?? []).map((line) => {
    const row = JSON.parse(line) as unknown[];
    const [distinct, steps, large] = [row[distinctAt] as number, row[distinctAt + 1] as string, row[distinctAt + 2] as string];
    const values = decodeSteps({ distinct_n: distinct, min_n: row[distinctAt - 3] as number, hist_steps: Buffer.from(steps, 'hex'), hist_large: Buffer.from(large, 'hex') });
    return JSON.stringify([...row.slice(0, distinctAt + 1), codePointsOf(values).toString('hex'), ...row.slice(distinctAt + 3)]);
  });
  rows.set(table, converted.sort());
}

for (const version of [4, 5]) describe(`sparsetrace migrate from schema ${version} to ${SCHEMA_VERSION}`, () => {
  const path = join(folder.path, `v${version}-rows.sqlite`);
  before(() => copyFixture(join(PROJECT_ROOT, 'test', 'fixtures', `v${version}`, `v${version}.sqlite3`), path));

  /**
   * Pages per table and index (dbstat), but the rollups' (schema 8 makes them again with their data file), the
   * schema's text, and run_tau_stats' and its index's (schema 9 writes its histograms again, smaller).
   */
  const ROLLUPS = /^((sqlite_autoindex_)?(job_cohorts|cohort_tau_stats|cohort_depth|cohort_pattern_levels|cohort_frequency|cohort_frequency_rows)(_\d+)?|sqlite_schema|run_tau_stats(_figures)?)$/;
  const pages = (file: string): Map<string, number> => {
    const handle = new Database(file, { readonly: true });
    try {
      const rows = handle.prepare(`SELECT name, count(*) FROM dbstat GROUP BY name ORDER BY name`).raw().all() as [string, number][];
      return new Map(rows.filter(([name]) => !ROLLUPS.test(name)));
    } finally {
      handle.close();
    }
  };

  /** Schema 7's and 9's activation frequency tables: added empty (earlier runs have none), a root page each and one for run_frequency's UNIQUE index. */
  const FREQUENCY_TABLES = ['cohort_frequency', 'cohort_frequency_rows', 'frequency_in_progress', 'pattern_frequency_rows', 'run_frequency'];
  /** Pages of the b-trees named (dbstat), and of sqlite_schema, whose SQL grows with the new tables and views. */
  const pagesOf = (file: string, names: readonly string[]): number => {
    const handle = new Database(file, { readonly: true });
    try {
      return handle.prepare(`SELECT count(*) FROM dbstat WHERE name IN (SELECT value FROM json_each(?))`).pluck().get(JSON.stringify(names)) as number;
    } finally {
      handle.close();
    }
  };

  const added = ADDED_RUN_COLUMNS[version];
  test(`adds ${added.map(([column, value]) => `runs.${column} (${String(value)} for every run)`).join(' and ')}, in place: every row of every table kept (cohorts with their data file), no page added but the frequency tables' (empty) and the index of run_tau_stats'`, async () => {
    const before = rowsOf(path);
    const pagesBefore = pages(path);
    const statsPagesBefore = pagesOf(path, ['run_tau_stats']);
    const migrate = await cliHere(['migrate', '--db', path, '--no-vacuum']);
    assert.equal(migrate.code, 0, migrate.stderr);
    assert.match(migrate.stderr, new RegExp(`upgraded from schema version ${version} to ${SCHEMA_VERSION}`));
    const after = rowsOf(path);
    checkedOverviews(after, path);
    for (const table of FREQUENCY_TABLES) {
      assert.deepEqual(after.get(table), [], `${table} is empty`);
      after.delete(table);
    }
    assert.deepEqual([...after.keys()], [...before.keys()]);
    const runs = (after.get('runs') as string[]).map((line) => JSON.parse(line) as unknown[]);
    assert.ok(runs.length >= 5);
    added.forEach(([column, value], k) => {
      const at = runs[0].length - added.length + k;
      assert.deepEqual(new Set(runs.map((row) => row[at])), new Set([value]), `runs.${column}, column ${at}, is ${String(value)}`);
    });
    after.set('runs', runs.map((row) => JSON.stringify(row.slice(0, -added.length))).sort());
    withValueHistograms(after, 'run_tau_stats');
    withValueHistograms(after, 'cohort_tau_stats');
    // Schema 8 keys cohorts by data file too (column 4, after job, model and Dmax): the fixture's job reads one file, so its cohorts are kept, with it.
    const dataFiles = new Set(runs.map((row) => row[3]));
    assert.equal(dataFiles.size, 1);
    for (const table of ['job_cohorts', 'cohort_tau_stats', 'cohort_depth', 'cohort_pattern_levels']) {
      const cohortRows = (after.get(table) as string[]).map((line) => JSON.parse(line) as unknown[]);
      assert.ok(cohortRows.length > 0, table);
      assert.deepEqual(new Set(cohortRows.map((row) => row[3])), dataFiles, `${table}.data_path`);
      after.set(table, cohortRows.map((row) => JSON.stringify([...row.slice(0, 3), ...row.slice(4)])).sort());
    }
    for (const [table, rows] of before) assert.deepEqual(after.get(table), rows, table);
    // The only pages added: one root for each new frequency b-tree (empty), and the index of run_tau_stats' figures.
    const pagesAfter = pages(path);
    const frequencyPages = [...FREQUENCY_TABLES, 'sqlite_autoindex_run_frequency_2'];
    assert.equal(pagesOf(path, frequencyPages), FREQUENCY_TABLES.length + 1);
    for (const name of frequencyPages) pagesAfter.delete(name);
    assert.ok(pagesOf(path, ['run_overview']) > 0);
    pagesAfter.delete('run_overview');
    // Schema 11's two indexes: a page each at this size.
    for (const index of ['job_runs_in_order', 'runs_by_window']) {
      assert.equal(pagesOf(path, [index]), 1, index);
      pagesAfter.delete(index);
    }
    assert.ok(pagesOf(path, ['run_tau_stats_figures']) > 0);
    assert.ok(pagesOf(path, ['run_tau_stats']) <= statsPagesBefore, 'run_tau_stats takes no more pages with its histograms as steps');
    assert.deepEqual(pagesAfter, pagesBefore);
  });
});

describe(`sparsetrace migrate from schema 6 to ${SCHEMA_VERSION}`, () => {
  const path = join(folder.path, 'v6-frequency.sqlite');
  before(() => copyFixture(join(PROJECT_ROOT, 'test', 'fixtures', 'v6', 'v6.sqlite3'), path));

  test('adds the activation frequency tables, empty (earlier runs have none), every other row kept; the resumed run gets none either', async () => {
    const before = rowsOf(path);
    const migrate = await cliHere(['migrate', '--db', path, '--no-vacuum']);
    assert.equal(migrate.code, 0, migrate.stderr);
    assert.match(migrate.stderr, new RegExp(`upgraded from schema version 6 to ${SCHEMA_VERSION}`));
    const after = rowsOf(path);
    assert.deepEqual([...after.keys()].filter((table) => !before.has(table)), [
      'cohort_frequency',
      'cohort_frequency_rows',
      'frequency_in_progress',
      'pattern_frequency_rows',
      'run_frequency',
      'run_overview',
    ]);
    checkedOverviews(after, path);
    withValueHistograms(after, 'run_tau_stats');
    withValueHistograms(after, 'cohort_tau_stats');
    // Schema 8 keys cohorts by data file too (column 4): the fixture's job reads one file, so its cohorts are kept, with it.
    for (const table of ['job_cohorts', 'cohort_tau_stats', 'cohort_depth', 'cohort_pattern_levels']) {
      const cohortRows = (after.get(table) as string[]).map((line) => JSON.parse(line) as unknown[]);
      assert.ok(cohortRows.length > 0, table);
      assert.equal(new Set(cohortRows.map((row) => row[3])).size, 1, `${table}.data_path`);
      after.set(table, cohortRows.map((row) => JSON.stringify([...row.slice(0, 3), ...row.slice(4)])).sort());
    }
    for (const [table, rows] of before) assert.deepEqual(after.get(table), rows, table);
    assert.deepEqual(after.get('run_frequency'), []);
    assert.deepEqual(after.get('pattern_frequency_rows'), []);
    // The report says the runs have no frequency, rather than show zeros.
    const report = await cliHere(['report', '--db', path, '--job', 'small', '--sections', 'frequency']);
    assert.equal(report.code, 0, report.stderr);
    assert.match(report.stdout, /no activation frequency/);
    // The run schema 6 left unfinished resumes; its first positions were never counted, so it has no frequency.
    const resume = await cliHere(['resume', '--db', path, '--no-report']);
    assert.equal(resume.code, 0, resume.stderr);
    const handle = new Database(path, { readonly: true });
    try {
      assert.equal(handle.prepare(`SELECT count(*) FROM run_frequency`).pluck().get(), 0);
      assert.equal(handle.prepare(`SELECT count(*) FROM pattern_frequency`).pluck().get(), 0);
      assert.equal(handle.prepare(`SELECT count(*) FROM runs WHERE status = 'done'`).pluck().get(), 5);
    } finally {
      handle.close();
    }
  });
});

describe(`sparsetrace migrate from schema 8 to ${SCHEMA_VERSION}`, () => {
  const fixture = join(PROJECT_ROOT, 'test', 'fixtures', 'v8');
  const path = join(folder.path, 'v8-rows.sqlite');
  before(() => copyFixture(join(fixture, 'v8.sqlite3'), path));

  /** Per cohort, τ and pattern: its runs' positions summed in plain SQL over the pattern_frequency view (schema 8's rows). */
  const COHORT_SUMS_OF_RUNS = `
    SELECT c.job_id, c.model_key, c.dmax, c.data_path, f.tau, f.class, f.src, f.dst, sum(f.positions) AS positions
    FROM job_cohorts c JOIN job_runs jr ON jr.job_id = c.job_id
      JOIN runs r ON r.run_key = jr.run_key AND r.model_key = c.model_key AND r.dmax = c.dmax AND (c.data_path = '' OR r.data_path = c.data_path) AND r.status = 'done'
      JOIN pattern_frequency f ON f.run_key = r.run_key
    GROUP BY 1, 2, 3, 4, 5, 6, 7, 8 ORDER BY 1, 2, 3, 4, 5, 6, 7, 8`;
  const query = (sql: string): unknown[] => {
    const handle = new Database(path, { readonly: true });
    try {
      return handle.prepare(sql).raw().all();
    } finally {
      handle.close();
    }
  };

  test("histograms as steps (the same values), every cohort's frequencies the sums of its runs' rows, a summaries run's own rows dropped, every other row kept", async () => {
    const before = rowsOf(path);
    const expectedSums = query(COHORT_SUMS_OF_RUNS);
    assert.ok(expectedSums.length > 0);
    const summariesRuns = query(`SELECT run_key FROM runs WHERE keep = 'summaries' AND status = 'done'`).map((row) => (row as number[])[0]);
    assert.equal(summariesRuns.length, 3);
    const migrate = await cliHere(['migrate', '--db', path, '--no-vacuum']);
    assert.equal(migrate.code, 0, migrate.stderr);
    assert.match(migrate.stderr, new RegExp(`upgraded from schema version 8 to ${SCHEMA_VERSION}`));
    const after = rowsOf(path);
    assert.deepEqual([...after.keys()].filter((table) => !before.has(table)), ['cohort_frequency', 'cohort_frequency_rows', 'run_overview']);
    checkedOverviews(after, path);
    withValueHistograms(after, 'run_tau_stats');
    withValueHistograms(after, 'cohort_tau_stats');
    // The summaries runs' frequency rows (their cohorts hold them now), and only theirs, are gone.
    const ofSummaries = (line: string) => summariesRuns.includes((JSON.parse(line) as number[])[0]);
    const frequencyRows = before.get('pattern_frequency_rows') as string[];
    assert.ok(frequencyRows.filter(ofSummaries).length > 0);
    assert.deepEqual(after.get('pattern_frequency_rows'), frequencyRows.filter((line) => !ofSummaries(line)));
    before.set('pattern_frequency_rows', frequencyRows.filter((line) => !ofSummaries(line)));
    for (const [table, rows] of before) assert.deepEqual(after.get(table), rows, table);
    // The cohorts' frequencies, read in plain SQL through their view, are the sums of their runs' rows before.
    assert.deepEqual(query(`SELECT * FROM cohort_pattern_frequency ORDER BY 1, 2, 3, 4, 5, 6, 7, 8`), expectedSums);
    assert.deepEqual(
      query(`SELECT job_id, dmax, runs, positions, complete FROM cohort_frequency ORDER BY 1, 2`),
      query(`SELECT job_id, dmax, runs, positions, 1 FROM job_cohorts ORDER BY 1, 2`),
    );
  });

  test("the summaries job's frequencies, read from its cohort, are what schema 8 printed from its runs; a run of it alone is refused", async () => {
    const json = await cliHere(['report', '--db', path, '--job', 'summaries', '--sections', 'frequency,summary,sparsity,never', '--format', 'json']);
    assert.equal(json.code, 0, json.stderr);
    const expected = readFileSync(join(fixture, 'report-summaries.json'), 'utf8').replaceAll('/work/main/test/fixtures/v8/v8.sqlite3', path).replaceAll('/work/shared', SHARED);
    assert.deepEqual(JSON.parse(json.stdout), JSON.parse(expected));
    assert.ok((JSON.parse(json.stdout) as { frequency: { runs: number } }).frequency.runs === 3);
    const runId = (query(`SELECT run_id FROM runs WHERE keep = 'summaries' LIMIT 1`)[0] as string[])[0];
    const alone = await cliHere(['report', '--db', path, '--run', runId, '--sections', 'frequency']);
    assert.equal(alone.code, 2);
    assert.match(alone.stderr, new RegExp(`frequency rows of run ${runId}, which \\(kept as summaries\\) dropped them`));
  });
});

describe(`sparsetrace migrate from schema 9 to ${SCHEMA_VERSION}`, () => {
  // test/fixtures/v9: written by main's code at 5f6d2d2 (scripts/make-fixture.sh), the jobs of v8's.
  const fixture = join(PROJECT_ROOT, 'test', 'fixtures', 'v9');
  const path = join(folder.path, 'v9.sqlite');
  const expectedOf = (name: string): string =>
    readFileSync(join(fixture, name), 'utf8').replaceAll('/work/main/test/fixtures/v9/v9.sqlite3', path).replaceAll('/work/shared', SHARED);
  before(() => copyFixture(join(fixture, 'v9.sqlite3'), path));

  test("adds run_overview, every finished run's row from its own rows, every other row kept; the reports print what schema 9 printed", async () => {
    const before = rowsOf(path);
    const migrate = await cliHere(['migrate', '--db', path, '--no-vacuum']);
    assert.equal(migrate.code, 0, migrate.stderr);
    assert.match(migrate.stderr, new RegExp(`upgraded from schema version 9 to ${SCHEMA_VERSION}`));
    const after = rowsOf(path);
    assert.deepEqual([...after.keys()].filter((table) => !before.has(table)), ['run_overview']);
    // The unfinished run has no row; the summaries job's runs (no per-position rows left) have theirs.
    assert.equal((after.get('run_overview') as string[]).length, (before.get('runs') as string[]).length - 1);
    checkedOverviews(after, path);
    for (const [table, rows] of before) assert.deepEqual(after.get(table), rows, table);

    const text = await cliHere(['report', '--db', path, '--job', 'small']);
    assert.equal(text.stdout, expectedOf('report-small.txt'));
    const json = await cliHere(['report', '--db', path, '--job', 'small', '--format', 'json']);
    assert.deepEqual(JSON.parse(json.stdout), JSON.parse(expectedOf('report-small.json')));
    const byWindow = await cliHere(['report', '--db', path, '--job', 'small', '--by', 'window', '--pool', '--format', 'json']);
    assert.deepEqual(JSON.parse(byWindow.stdout), JSON.parse(expectedOf('report-small-by-window.json')));
    const summaries = await cliHere(['report', '--db', path, '--job', 'summaries', '--sections', 'frequency,summary,sparsity,never', '--format', 'json']);
    assert.deepEqual(JSON.parse(summaries.stdout), JSON.parse(expectedOf('report-summaries.json')));
    assert.equal((await cliHere(['export', '--db', path, '--job', 'small', '--all'])).stdout, expectedOf('export-small.csv'));
  });

  test('the unfinished run, resumed, gets its row as it finishes', async () => {
    const resume = await cliHere(['resume', '--db', path, '--no-report']);
    assert.equal(resume.code, 0, resume.stderr);
    const after = rowsOf(path);
    assert.equal((after.get('run_overview') as string[]).length, (after.get('runs') as string[]).length);
    checkedOverviews(after, path);
  });
});

describe(`sparsetrace migrate from schema 10 to ${SCHEMA_VERSION}`, () => {
  // A schema 10 file is schema 11 without its two indexes (job_runs_in_order, runs_by_window): a store written now, made so.
  const path = join(folder.path, 'v10.sqlite');
  const INDEXES = ['job_runs_in_order', 'runs_by_window'];
  const indexesOf = (file: string): { sql: string[]; version: number } => {
    const handle = new Database(file, { readonly: true });
    try {
      const sql = handle.prepare(`SELECT sql FROM sqlite_schema WHERE type = 'index' AND name IN (SELECT value FROM json_each(?)) ORDER BY name`).pluck().all(JSON.stringify(INDEXES)) as string[];
      return { sql, version: handle.pragma('user_version', { simple: true }) as number };
    } finally {
      handle.close();
    }
  };

  test('adds the two indexes of selections read in order, every row kept; the reports print what they printed', async () => {
    await runJobSpec(folder.path, path, 'v10-windows', { models: [SHARED_MODEL], data: [{ path: SHARED_DATA, offset: 0, length: 40, stride: 40, count: 3 }], dmax: [5, 9], tau: [0.01, 0.1] });
    const fresh = indexesOf(path);
    assert.equal(fresh.version, SCHEMA_VERSION);
    assert.equal(fresh.sql.length, 2);
    const reportArgs = ['report', '--db', path, '--by', 'window'];
    const reportBefore = await cliHere(reportArgs);
    assert.equal(reportBefore.code, 0, reportBefore.stderr);
    const handle = new Database(path);
    for (const index of INDEXES) handle.exec(`DROP INDEX ${index}`);
    handle.pragma('user_version = 10');
    handle.close();
    const before = rowsOf(path);
    const refused = await cliHere(reportArgs);
    assert.equal(refused.code, 2, 'a schema 10 file is upgraded by `migrate`, not read as it is');
    const migrate = await cliHere(['migrate', '--db', path, '--no-vacuum']);
    assert.equal(migrate.code, 0, migrate.stderr);
    assert.match(migrate.stderr, new RegExp(`upgraded from schema version 10 to ${SCHEMA_VERSION}`));
    assert.deepEqual(indexesOf(path), fresh);
    assert.deepEqual(rowsOf(path), before);
    const reportAfter = await cliHere(reportArgs);
    assert.equal(reportAfter.stdout, reportBefore.stdout);
  });
});
