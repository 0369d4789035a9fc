import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, writeFileSync } from 'node:fs';
import Database from 'better-sqlite3';
import { join } from 'node:path';
import { closeDatabase, openDatabase, type Db, type GroupKeyName } from '../src/store/index.js';
import { OneRunRows, type OneRunStatements } from '../src/store/selected.js';
import { formatSourcesChunks, type ReportOptions } from '../src/report/format.js';
import { chunksText } from '../src/report/textBytes.js';
import { GroupReports } from '../src/report/gather.js';
import { groupSelection, selectRunSet, type Selection } from '../src/report/select.js';
import type { Grouping } from '../src/report/choices.js';
import { smallModelFile } from './random-model.js';
import { expectedOverviews, PROJECT_ROOT, runJobSpec, SHARED_DATA, SHARED_MODEL, temporaryFolder } from './cli.js';

/**
 * A grouped text or Markdown overview (`report --by window` over 10⁵ runs)
 * reads its one-run groups' figures with one lean statement
 * (RunSelection.oneRunOverviews, GroupReports.overview) and writes a text
 * overview's lines without their cells' arrays (overviewTextLines). Over a
 * small store with every kind of group, and with the column widths set by a
 * sample of 0, 1 or 5 groups so that most groups stream after it, the output
 * must be byte for byte what each group's own queries and textLine print.
 */
const folder = temporaryFolder('report-window');
const dbPath = join(folder.path, 'window.sqlite');
const copyPath = join(folder.path, 'window-copy.sqlite');
const sparsePath = join(folder.path, 'window-sparse.sqlite');
// One job of one model: no two runs of the store share a window and Dmax (until a second job reads them at other τ).
const onePath = join(folder.path, 'window-one.sqlite');
const twinPath = join(folder.path, 'window-twins.sqlite');
const smallModel = join(folder.path, 'small-h8.bin');
const TYPESCRIPT = join(PROJECT_ROOT, 'node_modules', 'typescript', 'lib', 'lib.es5.d.ts');

// Shards of 32 positions: a run's bpc adds up several split sums.
const runJob = (name: string, spec: object, extra: readonly string[] = []): Promise<void> =>
  runJobSpec(folder.path, dbPath, name, spec, ['--shard-size', '32', ...extra]);

before(async () => {
  writeFileSync(smallModel, smallModelFile(20261207));
  const tau = [0.1, 0.001, 0.01];
  // Two models × 5 windows of two files × 2 Dmax = 20 runs, τ not given in ascending order.
  await runJob('sweep', {
    models: [SHARED_MODEL, smallModel],
    data: [
      { path: SHARED_DATA, length: 100, stride: 130, count: 3 },
      { path: TYPESCRIPT, offset: 1024, length: 90, stride: 4096, count: 2 },
    ],
    dmax: [4, 12],
    tau,
  });
  // Runs of the sweep again (shared by two jobs), and a new window kept as summaries: one-run cohorts.
  await runJob('again', { models: [SHARED_MODEL], data: [{ path: SHARED_DATA, length: 100, stride: 130, count: 1 }], dmax: [4, 12], tau });
  await runJob('kept', { models: [smallModel], data: [{ path: TYPESCRIPT, offset: 40960, length: 80, stride: 1, count: 1 }], dmax: [4, 12], tau }, ['--keep', 'summaries']);
  copyFileSync(dbPath, copyPath);
  // A store where some finished runs have no run_overview row (as a run whose τ are not numbered 0 … count - 1 has none).
  copyFileSync(dbPath, sparsePath);
  const sparse = new Database(sparsePath);
  sparse.exec('DELETE FROM run_overview WHERE run_key % 3 = 0');
  sparse.close();
  const windows = { models: [SHARED_MODEL], data: [{ path: SHARED_DATA, length: 60, stride: 70, count: 3 }], dmax: [4, 12] };
  await runJobSpec(folder.path, onePath, 'one', { ...windows, tau });
  copyFileSync(onePath, twinPath);
  await runJobSpec(folder.path, twinPath, 'other-taus', { ...windows, tau: [0.01, 0.05] });
});
after(() => folder.remove());

function withDb<T>(body: (db: Db) => T, path = dbPath): T {
  const db = openDatabase(path, { readonly: true });
  try {
    return body(db);
  } finally {
    closeDatabase(db);
  }
}

/** The report's output (or its error message) over one or two stores. */
function output(dbs: readonly [Db, string][], selection: Selection, options: ReportOptions): string {
  const sources = dbs.map(([db, path]) => ({ db, dbPath: path, runs: selectRunSet(db, selection, path) }));
  try {
    return chunksText(formatSourcesChunks(sources, options)).replaceAll(dbPath, 'DB').replaceAll(copyPath, 'COPY');
  } catch (error) {
    return `error: ${(error as Error).message}`;
  } finally {
    for (const source of sources) source.runs.release();
  }
}

describe('a grouped overview of one-run groups', () => {
  test('prints byte for byte what per-group queries and textLine print, in text and Markdown, however many groups set the widths', () => {
    const selections: Selection[] = [{ all: true }, { job: 'sweep' }, { all: true, model: smallModel }, { all: true, data: TYPESCRIPT }, { job: 'sweep', model: smallModel }];
    const groupings: Grouping[][] = [['window'], ['window', 'dmax'], ['job', 'window'], ['data'], []];
    let cases = 0;
    let errors = 0;
    withDb((db) =>
      withDb((copy) => {
        for (const stores of [[[db, dbPath]], [[db, dbPath], [copy, copyPath]]] as [Db, string][][])
          // Two stores add the store key and a second store's groups after the first's: compared over the whole
          // selection; each narrower selection (its own one-run statements) over one store.
          for (const selection of stores.length === 1 ? selections : selections.slice(0, 1))
            for (const by of groupings)
              for (const format of ['text', 'md'] as const)
                // The sample only sets a text overview's column widths; Markdown reads and prints its groups alike
                // either side of it, so one sample size tells its streamed rows from its queried ones.
                for (const widthSample of format === 'text' ? [0, 1, 5] : [1])
                  for (const neverTau of [undefined, 0.1, 0.05])
                    for (const pool of by.includes('window') || by.length === 0 ? [false, true] : [false]) {
                      const options: ReportOptions = { format, by, neverTau, pool, widthSample, taus: neverTau === 0.1 ? [0.01, 0.1] : undefined };
                      const streamed = output(stores, selection, options);
                      assert.equal(streamed, output(stores, selection, { ...options, perGroupQueries: true }), JSON.stringify({ stores: stores.length, selection, options }));
                      cases += 1;
                      if (streamed.startsWith('error:')) errors += 1;
                    }
      }, copyPath),
    );
    // Some cases ask for patterns never active at a τ (0.05) that the runs kept as summaries cannot give, and fail alike.
    assert.ok(errors > 0 && errors < cases / 3, `${errors} of ${cases} cases failed`);
  });

  test('its one-run groups come from the lean statement, with the figures of their reports; the others from their reports', () => {
    withDb((db) => {
      for (const by of [['window'], ['window', 'dmax'], ['job', 'window']] as Grouping[][]) {
        const runs = selectRunSet(db, { all: true }, dbPath);
        const { groups } = groupSelection(runs, { by });
        const reports = new GroupReports(db, runs);
        const singles = groups.filter((group) => group.size === 1);
        assert.ok(singles.length >= 20, `${by}: ${singles.length} one-run groups`);
        let read = 0;
        for (const group of groups) {
          const overview = reports.overview(group);
          if (overview === undefined) continue;
          read += 1;
          const report = reports.report(group);
          const { runCount, positions, bpc } = report;
          assert.deepEqual(overview, { runCount, positions, bpc, sparsity: report.sparsity.map(({ tau, mean, median }) => ({ tau, mean, median })) }, JSON.stringify(group.key));
        }
        reports.close();
        // The 'kept' job's two runs are each a cohort of their own (kept as summaries): read from the cohort.
        assert.equal(read, singles.length - 2, `${by}: groups read by the lean statement`);
        assert.equal(reports.overviewsStreamed, read);
        runs.release();
      }
    });
  });

  test('a one-run group without its active counts at --never-tau is left to its report, which says why it cannot give them', () => {
    withDb((db) => {
      const runs = selectRunSet(db, { all: true }, dbPath);
      const { groups } = groupSelection(runs, { by: ['window', 'dmax'] });
      const reports = new GroupReports(db, runs, 0.05);
      for (const group of groups) assert.equal(reports.overview(group), undefined, JSON.stringify(group.key));
      reports.close();
      runs.release();
    });
  });

  test('a selection whose groups are each one run is read by one statement, in the groups\' order, until a group it cannot give; then as streamGroups gives them', () => {
    withDb((db) => {
      const keys: GroupKeyName[] = ['model', 'window', 'dmax'];
      const storedRow = db.prepare('SELECT o.positions, o.surprisal_bits, o.figures FROM run_overview o JOIN runs r USING (run_key) WHERE r.run_id = ?').raw();
      const runs = selectRunSet(db, { all: true }, dbPath);
      const groups = runs.groupBy(keys);
      assert.ok(groups.length >= 22 && groups.every((group) => group.size === 1), `${groups.length} groups of one run`);
      // (Read now: streamGroups, which rest() calls, groups the selection anew, and these groups' runs go with their rows.)
      const expected = groups.map((group) => [group.key, group.size, group.runIds()]);
      // Chunks of 1, 5 and 512 runs (every run in one): the same runs in the same order across chunk boundaries.
      for (const chunkRuns of [1, 5, 512]) {
        const cursor = runs.oneRunGroups(keys, chunkRuns);
        assert.ok(cursor !== undefined);
        let withoutRow = 0;
        for (const group of groups) {
          const entry = cursor.next();
          assert.ok(entry !== undefined);
          assert.deepEqual(entry.key, group.key);
          if (entry.figures === undefined) {
            withoutRow += 1;
            continue;
          }
          const [positions, surprisalBits, figures] = storedRow.get(group.runIds()[0]) as [number, number, Buffer];
          // The figures as numbers: each float64 of the BLOB, little-endian, read by DataView (not the cursor's decoder).
          const view = new DataView(figures.buffer, figures.byteOffset, figures.byteLength);
          const expectedFigures = Array.from({ length: figures.length / 8 }, (_, k) => view.getFloat64(8 * k, true));
          assert.deepEqual([entry.positions, entry.surprisalBits, Array.from(entry.figures)], [positions, surprisalBits, expectedFigures], `${JSON.stringify(group.key)} in chunks of ${chunkRuns}`);
          assert.equal(group.runIds().length, 1);
        }
        assert.equal(cursor.next(), undefined);
        // The runs a cohort of one run may stand for (the two 'kept' as summaries, each its job's only run of its Dmax) are left to streamGroups.
        const inOneRunCohort = db
          .prepare(
            `SELECT count(DISTINCT r.run_key) FROM job_cohorts c JOIN job_runs jr USING (job_id)
               JOIN runs r ON r.run_key = jr.run_key AND r.model_key = c.model_key AND r.dmax = c.dmax AND c.data_path IN ('', r.data_path)
             WHERE c.runs = 1`,
          )
          .pluck()
          .get();
        assert.equal(withoutRow, inOneRunCohort);
        assert.equal(withoutRow, 2);
      }
      // From any group on (in chunks of 5: from within a chunk and from its last run), rest() gives the groups streamGroups gives from there.
      for (const at of [0, 1, 4, 5, groups.length - 1]) {
        const again = runs.oneRunGroups(keys, 5);
        assert.ok(again !== undefined);
        for (let k = 0; k <= at; k++) again.next();
        const rest = [...again.rest()];
        assert.deepEqual(rest.map((group) => [group.key, group.size, group.runIds()]), expected.slice(at), `from group ${at}`);
      }
      // Groups of several runs: no cursor.
      assert.equal(runs.oneRunGroups(['model', 'dmax']), undefined);
      assert.equal(runs.oneRunGroups(['window']), undefined);
      assert.equal(runs.oneRunGroups([]), undefined);
      runs.release();
    });
  });

  test('a text or Markdown overview takes its groups from that statement, byte for byte what the per-group queries print', () => {
    withDb((db) => {
      const cases: [Selection, Grouping[], number][] = [
        // The sweep's runs of the small model: no cohort of one run, every group from the statement.
        [{ job: 'sweep', model: smallModel }, ['window'], 10],
        // Then the runs kept as summaries, each a cohort of its own: read from there on as streamGroups gives them.
        [{ all: true, model: smallModel }, ['window'], 10],
        [{ all: true, data: TYPESCRIPT }, ['window', 'dmax'], 8],
        // Two runs share a data file and Dmax: no statement.
        [{ job: 'sweep', model: smallModel }, ['data'], 0],
      ];
      for (const [selection, by, expected] of cases)
        for (const format of ['text', 'md'] as const)
          for (const widthSample of [0, 3])
            for (const taus of [undefined, [0.1, 0.001], [0.5]]) {
              const tally = { oneRunRows: 0 };
              const options: ReportOptions = { format, by, widthSample, taus };
              const label = JSON.stringify({ selection, options });
              const streamed = output([[db, dbPath]], selection, { ...options, tally });
              assert.equal(streamed, output([[db, dbPath]], selection, { ...options, perGroupQueries: true }), label);
              // --tau 0.5 names a τ the runs lack: the first group fails, as it does read by its queries.
              if (taus?.[0] === 0.5 && expected > 0) assert.match(streamed, /^error: --tau 0\.5: no threshold/, label);
              else assert.equal(tally.oneRunRows, expected, label);
            }
    });
  });

  test('whether a window and Dmax holds two runs: from the whole store when none does, else from the selection', () => {
    const cases: [string, Selection, Grouping[], number][] = [
      // No two runs of the store share a window and Dmax: every group is one run.
      [onePath, { job: 'one' }, ['window'], 6],
      // The second job's runs share them at other τ: not in job 'one', nor in every run grouped by τ list too (a note says so).
      [twinPath, { job: 'one' }, ['window'], 6],
      [twinPath, { all: true }, ['window'], 12],
    ];
    for (const [path, selection, by, expected] of cases)
      withDb((db) => {
        for (const format of ['text', 'md'] as const) {
          const tally = { oneRunRows: 0 };
          const options: ReportOptions = { format, by, widthSample: 2 };
          const label = JSON.stringify({ path, selection, by, format });
          const streamed = output([[db, path]], selection, { ...options, tally });
          assert.equal(streamed, output([[db, path]], selection, { ...options, perGroupQueries: true }), label);
          assert.equal(tally.oneRunRows, expected, label);
        }
      }, path);
    withDb((db) => {
      const runs = selectRunSet(db, { all: true }, twinPath);
      // Grouped by window and Dmax alone (a report adds the τ list), each group is two runs: no statement.
      assert.equal(runs.oneRunGroups(['window', 'dmax']), undefined, 'two runs (two τ lists) a window and Dmax');
      assert.ok(runs.oneRunGroups(['window', 'dmax', 'taus']) !== undefined);
      runs.release();
    }, twinPath);
  });

  test("the store's run_overview rows, written as each run finished, are what the runs' own rows give", () => {
    const handle = new Database(dbPath, { readonly: true });
    try {
      const rows = (handle.prepare('SELECT * FROM run_overview').raw().all() as unknown[][]).map((row) => JSON.stringify(row.map((value) => (Buffer.isBuffer(value) ? value.toString('hex') : value)))).sort();
      assert.equal(rows.length, handle.prepare(`SELECT count(*) FROM runs WHERE status = 'done'`).pluck().get());
      assert.deepEqual(rows, expectedOverviews(dbPath));
    } finally {
      handle.close();
    }
  });

  test('a one-run group whose run has no run_overview row is reported from its queries, byte for byte', () => {
    withDb((sparse) => {
      for (const format of ['text', 'md'] as const)
        for (const widthSample of [0, 5])
          for (const by of [['window'], ['job', 'window']] as Grouping[][]) {
            const options: ReportOptions = { format, by, widthSample };
            assert.equal(output([[sparse, sparsePath]], { all: true }, options), output([[sparse, sparsePath]], { all: true }, { ...options, perGroupQueries: true }), JSON.stringify(options));
          }
      // Only the groups whose run kept its row come from it.
      const runs = selectRunSet(sparse, { all: true }, sparsePath);
      const { groups } = groupSelection(runs, { by: ['window'] });
      const reports = new GroupReports(sparse, runs);
      let read = 0;
      let withoutRow = 0;
      const hasRow = sparse.prepare('SELECT 1 FROM run_overview o JOIN runs r USING (run_key) WHERE r.run_id = ?').pluck();
      for (const group of groups) {
        const overview = reports.overview(group);
        if (overview !== undefined) read += 1;
        if (group.size === 1 && hasRow.get(group.runIds()[0]) === undefined) {
          withoutRow += 1;
          assert.equal(overview, undefined, JSON.stringify(group.key));
        }
      }
      reports.close();
      runs.release();
      assert.ok(withoutRow > 0 && read > 0, `${withoutRow} groups without a row, ${read} read from their rows`);
      assert.equal(reports.overviewsStreamed, read);
    }, sparsePath);
  });
});

describe('OneRunRows', () => {
  // Statements that stand in for oneRunGroups': each chunk is [JSON of its runs, their figures], rows a row per run from @after on.
  const figuresOf = (values: number[]): Buffer => Buffer.from(new Float64Array(values).buffer);
  const fake = (chunks: [unknown[][], number[]][], rows: unknown[][]) => {
    const asked: { chunksAfter: unknown[]; rowsAfter: unknown[] } = { chunksAfter: [], rowsAfter: [] };
    let next = 0;
    const statement = {
      get: (params: { after: unknown }) => {
        asked.chunksAfter.push(params.after);
        const chunk = chunks[next++] ?? [[], []];
        return [JSON.stringify(chunk[0]), chunk[1].length === 0 ? null : figuresOf(chunk[1])];
      },
      iterate: (params: { after: number }) => {
        asked.rowsAfter.push(params.after);
        return rows.filter((row) => (row[row.length - 1] as number) > params.after)[Symbol.iterator]();
      },
    };
    return { statements: { twoRunGroup: statement, rows: statement, chunks: statement } as unknown as OneRunStatements, asked };
  };
  const read = (rows: OneRunRows) => {
    const seen: [unknown, number[] | null][] = [];
    for (let row = rows.next(); row !== undefined; row = rows.next()) seen.push([row[row.length - 1], rows.figures === null ? null : Array.from(rows.figures)]);
    return seen;
  };

  test('gives the chunks\' runs in order with their figures, each chunk after the last run of the one before', () => {
    // [stored, positions, surprisal, figures' bytes, key, order]
    const { statements, asked } = fake(
      [
        [[[1, 10, 1.5, 16, 'a', 3], [1, 10, 2.5, null, 'b', 5], [1, 10, 3.5, 8, 'c', 9]], [1, 2, 3]],
        [[[1, 10, 4.5, 8, 'd', 12]], [4]],
      ],
      [],
    );
    assert.deepEqual(read(new OneRunRows(statements, {})), [[3, [1, 2]], [5, null], [9, [3]], [12, [4]]]);
    assert.deepEqual(asked.chunksAfter, [Number.MIN_SAFE_INTEGER, 9, 12]);
    assert.deepEqual(asked.rowsAfter, []);
  });

  test('a chunk whose runs do not ascend is dropped, and the rest read a row per run from the last run given', () => {
    const row = (order: number, value: number) => [1, 10, 0.5, figuresOf([value]), 'k', order];
    const { statements, asked } = fake(
      [
        [[[1, 10, 1.5, 8, 'a', 3]], [1]],
        [[[1, 10, 1.5, 8, 'b', 8], [1, 10, 1.5, 8, 'c', 6]], [2, 3]],
      ],
      [row(3, 1), row(6, 3), row(8, 2)],
    );
    assert.deepEqual(read(new OneRunRows(statements, {})), [[3, [1]], [6, [3]], [8, [2]]]);
    assert.deepEqual(asked.chunksAfter, [Number.MIN_SAFE_INTEGER, 3]);
    assert.deepEqual(asked.rowsAfter, [3]);
  });
});
