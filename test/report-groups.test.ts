import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { closeDatabase, openDatabase, type Db } from '../src/store/index.js';
import { formatSourcesChunks, type ReportOptions } from '../src/report/format.js';
import { chunksText } from '../src/report/textBytes.js';
import { gatherReport, GroupReports } from '../src/report/gather.js';
import { groupSelection, selectRunSet, type Selection } from '../src/report/select.js';
import type { Grouping, ReportFormat, ReportSection } from '../src/report/choices.js';
import { smallModelFile } from './random-model.js';
import { PROJECT_ROOT, runJobSpec, SHARED_DATA, SHARED_MODEL, temporaryFolder } from './cli.js';

/**
 * Reports of groups that are one run (`--by window`) read every such group's
 * stored figures with one statement (RunSelection.singleRunFigures) instead of
 * a few queries per group. Over a small store that has every kind of group —
 * one run, several runs, a one-run cohort, runs of two models and two data
 * files, runs shared by two jobs, runs kept as summaries — every report must
 * be byte for byte what the per-group queries print, in every format.
 */
const folder = temporaryFolder('report-groups');
const dbPath = join(folder.path, 'groups.sqlite');
const smallModel = join(folder.path, 'small-h8.bin');
const TYPESCRIPT = join(PROJECT_ROOT, 'node_modules', 'typescript', 'lib', 'lib.es5.d.ts');

// Shards of 64 positions: a run's bpc adds up several split sums.
const runJob = (name: string, spec: object, extra: readonly string[] = []): Promise<void> =>
  runJobSpec(folder.path, dbPath, name, spec, ['--shard-size', '64', ...extra]);

before(async () => {
  writeFileSync(smallModel, smallModelFile(20261206));
  const tau = [0.001, 0.01, 0.1];
  // Two models × 5 windows of two files × 2 Dmax = 20 runs.
  await runJob('sweep', {
    models: [SHARED_MODEL, smallModel],
    data: [
      { path: SHARED_DATA, length: 150, stride: 200, count: 3 },
      { path: TYPESCRIPT, offset: 2048, length: 150, stride: 4096, count: 2 },
    ],
    dmax: [5, 20],
    tau,
  });
  // Runs of the sweep again (shared by two jobs), and one new window kept as summaries: one-run cohorts.
  await runJob('again', { models: [SHARED_MODEL], data: [{ path: SHARED_DATA, length: 150, stride: 200, count: 1 }], dmax: [5, 20], tau });
  await runJob('kept', { models: [smallModel], data: [{ path: TYPESCRIPT, offset: 40960, length: 120, stride: 1, count: 1 }], dmax: [5, 20], tau }, ['--keep', 'summaries']);
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

/** The report's output, or its error message: from the streamed figures, or from each group's own queries. */
function output(db: Db, selection: Selection, options: ReportOptions, path = dbPath): string {
  const runs = selectRunSet(db, selection, path);
  try {
    return chunksText(formatSourcesChunks([{ db, dbPath: path, runs }], options)).replaceAll(path, 'DB');
  } catch (error) {
    return `error: ${(error as Error).message}`;
  } finally {
    runs.release();
  }
}

describe('reports of one-run groups from streamed figures', () => {
  test('print byte for byte what per-group queries print, in every format, grouping and option', () => {
    const selections: Selection[] = [{ all: true }, { job: 'sweep' }, { all: true, model: smallModel }, { all: true, data: TYPESCRIPT }];
    const groupings: Grouping[][] = [['window'], ['window', 'dmax'], ['data'], ['model'], ['job', 'window'], []];
    type FormatCase = [ReportFormat, readonly ReportSection[] | undefined];
    // What a group's figures are read with (GroupReports) depends on the format only through three choices: a
    // text overview (the lean overview statement, no depth profiles), sections without depth (the one-run
    // statement without depth), or depth printed for each group (JSON: the one-run statement with depth, and
    // every figure at full precision). Those three are compared at every selection, grouping and option.
    const readPaths: FormatCase[] = [
      ['text', undefined],
      ['text', ['sparsity']],
      ['json', undefined],
    ];
    // The other renderings of the same reports (Markdown, text sections with depth, CSV) print what the
    // same figures give; each is compared at every grouping and pooling of the whole selection, at every τ.
    const renderings: FormatCase[] = [
      ['text', ['summary', 'never', 'depth']],
      ['md', undefined],
      ['md', ['summary', 'never', 'depth']],
      ['md', ['sparsity']],
      ['csv', undefined],
    ];
    let cases = 0;
    let errors = 0;
    withDb((db) => {
      for (const [s, selection] of selections.entries())
        for (const by of groupings)
          for (const [format, section] of s === 0 ? [...readPaths, ...renderings] : readPaths)
            for (const neverTau of [undefined, 0.1, 0.05])
              // Pooling Dmax makes a window's group two runs.
              for (const pool of by.includes('window') || by.length === 0 ? [false, true] : [false]) {
                  const options = { format, by, sections: section, neverTau, pool, taus: neverTau === 0.1 ? [0.01, 0.1] : undefined };
                  const streamed = output(db, selection, options);
                  const queried = output(db, selection, { ...options, perGroupQueries: true });
                  assert.equal(streamed, queried, JSON.stringify({ selection, options }));
                  cases += 1;
                  if (streamed.startsWith('error:')) errors += 1;
                }
    });
    // Most cases report; some ask for patterns never active at a τ (0.05) that the runs kept as summaries cannot give, and fail alike.
    assert.ok(errors > 0 && errors < cases / 3, `${errors} of ${cases} cases failed`);
  });

  test('every one-run group not covered by a cohort is read from the stream, and gives the report of its queries', () => {
    withDb((db) => {
      for (const by of [['window'], ['window', 'dmax'], ['job', 'window']] as Grouping[][]) {
        const runs = selectRunSet(db, { all: true }, dbPath);
        const { groups } = groupSelection(runs, { by });
        const reports = new GroupReports(db, runs, undefined, true);
        const singles = groups.filter((group) => group.size === 1);
        assert.ok(singles.length >= 20, `${by}: ${singles.length} one-run groups`);
        for (const group of groups) assert.deepEqual(reports.report(group), gatherReport(db, group), `${by}: ${JSON.stringify(group.key)}`);
        reports.close();
        // The 'kept' job's two runs are alone in their windows and each is a cohort of its own (kept as summaries): read from the cohort.
        assert.equal(reports.streamed, singles.length - 2, `${by}: groups streamed`);
        runs.release();
      }
    });
  });

  test('groups by data file (with model, Dmax, job) are whole cohorts: read from the rollups, they print what their runs print', () => {
    // The same store without rollups: every group read run by run.
    const noRollups = join(folder.path, 'no-rollups.sqlite');
    copyFileSync(dbPath, noRollups);
    const handle = new Database(noRollups);
    handle.exec('DELETE FROM cohort_frequency_rows; DELETE FROM cohort_frequency; DELETE FROM cohort_pattern_levels; DELETE FROM cohort_depth; DELETE FROM cohort_tau_stats; DELETE FROM job_cohorts;');
    handle.close();
    // Selections without the runs kept as summaries (whose dropped peaks only a cohort's levels keep).
    const selections: Selection[] = [{ job: 'sweep' }, { all: true, model: SHARED_MODEL }, { all: true, data: SHARED_DATA }];
    const groupings: Grouping[][] = [['data'], ['data', 'dmax'], ['model', 'data'], ['job', 'data'], ['dmax'], []];
    let cases = 0;
    withDb((db) =>
      withDb((plain) => {
        for (const selection of selections)
          for (const by of groupings)
            // JSON prints every figure of every section at full precision: compared at every selection and grouping (which
            // cohorts cover a group) and, over the first selection, at every --never-tau (which of a cohort's levels is read).
            // Text and CSV render the same reports (gathered alike for every format): compared at every grouping of the first selection.
            for (const format of selection === selections[0] ? (['json', 'text', 'csv'] as const) : (['json'] as const))
              for (const neverTau of format === 'json' && selection === selections[0] ? [undefined, 0.1, 0.05] : [undefined]) {
                // The activation frequency too: from the cohorts' sums, or added up run by run.
                const options = { format, by, neverTau, sections: ['summary', 'sparsity', 'classes', 'never', 'depth', 'frequency'] as ReportSection[] };
                const fromRollups = output(db, selection, options);
                assert.doesNotMatch(fromRollups, /^error:/, JSON.stringify({ selection, options }));
                assert.equal(fromRollups, output(plain, selection, options, noRollups), JSON.stringify({ selection, options }));
                cases += 1;
              }
        // And they were read from the rollups: in the sweep, a report splits each data file's runs by model and Dmax too (8 groups),
        // each of them a cohort, no run read alone.
        const runs = selectRunSet(db, { job: 'sweep' }, dbPath);
        const { groups } = groupSelection(runs, { by: ['data'] });
        assert.equal(groups.length, 8);
        for (const group of groups) {
          const plan = group.plan();
          assert.equal(plan.cohorts.length, 1, JSON.stringify(group.key));
          assert.deepEqual(plan.runs, [], JSON.stringify(group.key));
          assert.deepEqual(new Set(plan.cohorts.map((cohort) => cohort.data_path)), new Set([group.key.data]));
        }
        runs.release();
      }, noRollups),
    );
    assert.equal(cases, groupings.length * (3 + 2 + (selections.length - 1)));
  });

  test('SQLite gives every double back exactly through JSON, as the streamed figures need', () => {
    const db = new Database(':memory:');
    try {
      const bits = new BigUint64Array(1);
      const value = new Float64Array(bits.buffer);
      const values: number[] = [0.1, 1 / 3, 5e-324, 2.2250738585072014e-308, Number.MAX_VALUE, 0.0177827941003892, -0.5];
      let state = 0x2545f4914f6cdd1dn;
      while (values.length < 20_000) {
        state ^= state << 13n;
        state ^= state >> 7n;
        state ^= state << 17n;
        bits[0] = state & 0xffffffffffffffffn;
        if (Number.isFinite(value[0])) values.push(value[0]);
      }
      // Bound as REALs, as the store holds them.
      const stored = db.prepare(`SELECT json_array(?, ?, ?)`).pluck();
      for (let k = 0; k + 2 < values.length; k += 3) {
        assert.deepEqual(JSON.parse(stored.get(values[k], values[k + 1], values[k + 2]) as string), values.slice(k, k + 3));
      }
    } finally {
      db.close();
    }
  });
});
