import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { closeDatabase, openDatabase, rebuildJobRollups } from '../src/store/index.js';
import { cliHere, PROJECT_ROOT, SHARED_DATA, SHARED_MODEL, temporaryFolder } from './cli.js';

/**
 * `--keep summaries` and the rollups: a small sweep (two data files, several
 * windows, two Dmax, three τ) computed twice, keeping everything and keeping
 * summaries only; every report must be the same, and the same again when the
 * rollups are deleted (the report then reads run by run) or made again from
 * scratch.
 */
const folder = temporaryFolder('retention');
const job = join(folder.path, 'sweep.json');
const full = join(folder.path, 'full.sqlite');
const summaries = join(folder.path, 'summaries.sqlite');
const noRollups = join(folder.path, 'no-rollups.sqlite');
const TYPESCRIPT = join(PROJECT_ROOT, 'node_modules', 'typescript', 'lib', 'lib.es5.d.ts');

const REPORTS: readonly (readonly string[])[] = [
  ['--all', '--format', 'json'],
  ['--format', 'json'],
  ['--by', 'window', '--format', 'json'],
  ['--by', 'dmax', '--format', 'json'],
  ['--by', 'model', '--format', 'json'],
  ['--by', 'data', '--format', 'json'],
  ['--by', 'data,dmax'],
  ['--all', '--dmax', '20', '--format', 'json'],
  ['--all', '--dmax', '20'],
  ['--all', '--dmax', '5', '--format', 'csv'],
  // The activation frequencies of whole cohorts: read from the cohorts' sums (a summaries run keeps no rows of its own).
  ['--all', '--sections', 'frequency', '--format', 'json'],
  ['--by', 'data,dmax', '--sections', 'summary,sparsity,never,frequency', '--format', 'json'],
  ['--by', 'job', '--sections', 'frequency'],
  ['--all', '--dmax', '20', '--sections', 'frequency', '--format', 'csv'],
];

async function report(db: string, args: readonly string[]): Promise<string> {
  const result = await cliHere(['report', '--db', db, ...args]);
  assert.equal(result.code, 0, `report ${args.join(' ')}: ${result.stderr}`);
  return result.stdout.replaceAll(db, 'DB');
}

function count(db: string, sql: string): number {
  const handle = new Database(db, { readonly: true });
  try {
    return handle.prepare(sql).pluck().get() as number;
  } finally {
    handle.close();
  }
}

before(async () => {
  writeFileSync(
    job,
    JSON.stringify({
      name: 'retention-sweep',
      models: [SHARED_MODEL],
      data: [
        { path: SHARED_DATA, length: 160, stride: 200, count: 4 },
        { path: TYPESCRIPT, offset: 2048, length: 160, stride: 4096, count: 3 },
      ],
      dmax: [5, 20],
      tau: [0.001, 0.01, 0.1],
    }),
  );
  for (const [db, keep] of [[full, 'full'], [summaries, 'summaries']]) {
    const run = await cliHere(['run', job, '--db', db, '--keep', keep, '--no-report', '--shard-size', '64']);
    assert.equal(run.code, 0, run.stderr);
  }
  copyFileSync(full, noRollups);
  deleteRollups(noRollups);
});

/** Empties the rollup tables, so that reports read run by run. */
function deleteRollups(db: string): void {
  const handle = new Database(db);
  try {
    handle.exec('DELETE FROM cohort_frequency_rows; DELETE FROM cohort_frequency; DELETE FROM cohort_pattern_levels; DELETE FROM cohort_depth; DELETE FROM cohort_tau_stats; DELETE FROM job_cohorts;');
  } finally {
    handle.close();
  }
}
after(() => folder.remove());

describe('run --keep summaries', () => {
  test('drops every per-position row and peak of its finished runs, keeps their summaries, and takes less disk', () => {
    for (const table of ['position_rows', 'count_blocks', 'shard_depth', 'pattern_peak_rows']) {
      assert.ok(count(full, `SELECT count(*) FROM ${table}`) > 0, `full: ${table}`);
      assert.equal(count(summaries, `SELECT count(*) FROM ${table}`), 0, `summaries: ${table}`);
    }
    assert.equal(count(summaries, `SELECT count(*) FROM runs WHERE keep = 'summaries' AND status = 'done'`), 14);
    assert.equal(count(summaries, 'SELECT count(*) FROM run_tau_stats'), count(full, 'SELECT count(*) FROM run_tau_stats'));
    assert.ok(statSync(summaries).size < statSync(full).size / 2, `${statSync(summaries).size} against ${statSync(full).size}`);
  });

  test('every report is the same as with every row kept', async () => {
    for (const args of REPORTS) assert.equal(await report(summaries, args), await report(full, args), args.join(' '));
  });

  test('the histograms read in plain SQL are the same', () => {
    const rows = (db: string) => {
      const handle = new Database(db, { readonly: true });
      try {
        return handle.prepare('SELECT run_id, tau, n, positions FROM run_histograms ORDER BY run_id, tau, n').raw().all();
      } finally {
        handle.close();
      }
    };
    assert.deepEqual(rows(summaries), rows(full));
  });

  test("the histograms read in plain SQL are the per-position counts grouped by n, large steps included", () => {
    const handle = new Database(full, { readonly: true });
    try {
      assert.ok((handle.prepare(`SELECT count(*) FROM run_tau_stats WHERE length(hist_large) > 0`).pluck().get() as number) > 0, 'some histogram has large steps');
      assert.deepEqual(
        handle.prepare('SELECT run_id, tau, n, positions FROM run_histograms ORDER BY run_id, tau, n').raw().all(),
        handle.prepare('SELECT run_id, tau, n_x + n_h + n_y AS n, count(*) FROM counts GROUP BY run_id, tau, n ORDER BY run_id, tau, n').raw().all(),
      );
    } finally {
      handle.close();
    }
  });

  test("drops its runs' own frequency rows once rolled up; its cohorts' sums, read in plain SQL, are those of the full runs' rows", () => {
    assert.ok(count(full, 'SELECT count(*) FROM pattern_frequency_rows') > 0);
    assert.equal(count(summaries, 'SELECT count(*) FROM pattern_frequency_rows'), 0);
    const sumsOfRuns = `
      SELECT c.dmax, c.data_path, f.tau, f.class, f.src, f.dst, sum(f.positions)
      FROM job_cohorts c JOIN job_runs jr ON jr.job_id = c.job_id
        JOIN runs r ON r.run_key = jr.run_key AND r.model_key = c.model_key AND r.dmax = c.dmax AND r.data_path = c.data_path AND r.status = 'done'
        JOIN pattern_frequency f ON f.run_key = r.run_key
      GROUP BY 1, 2, 3, 4, 5, 6 ORDER BY 1, 2, 3, 4, 5, 6`;
    const ofCohorts = `SELECT dmax, data_path, tau, class, src, dst, positions FROM cohort_pattern_frequency ORDER BY 1, 2, 3, 4, 5, 6`;
    const rows = (db: string, sql: string) => {
      const handle = new Database(db, { readonly: true });
      try {
        return handle.prepare(sql).raw().all();
      } finally {
        handle.close();
      }
    };
    const expected = rows(full, sumsOfRuns);
    assert.ok(expected.length > 0);
    assert.deepEqual(rows(full, ofCohorts), expected);
    assert.deepEqual(rows(summaries, ofCohorts), expected);
  });

  test("the activation frequencies of a selection that is not whole cohorts need its runs' own rows: refused with exit 2, not guessed", async () => {
    const handle = new Database(summaries, { readonly: true });
    const runId = handle.prepare(`SELECT run_id FROM runs ORDER BY run_key LIMIT 1`).pluck().get() as string;
    handle.close();
    for (const args of [['--by', 'window', '--sections', 'frequency'], ['--run', runId, '--sections', 'frequency', '--format', 'json']]) {
      const refused = await cliHere(['report', '--db', summaries, ...args]);
      assert.equal(refused.code, 2, args.join(' '));
      assert.match(refused.stderr, /need the frequency rows of run \w+, which \(kept as summaries\) dropped them/);
      assert.equal((await cliHere(['report', '--db', full, ...args])).code, 0);
    }
  });

  test('never-active at a τ outside the runs\' list over several runs needs the peaks: refused with exit 2, not guessed', async () => {
    const refused = await cliHere(['report', '--db', summaries, '--all', '--dmax', '20', '--never-tau', '0.05']);
    assert.equal(refused.code, 2);
    assert.match(refused.stderr, /kept as summaries\) dropped/);
    assert.equal((await cliHere(['report', '--db', full, '--all', '--dmax', '20', '--never-tau', '0.05'])).code, 0);
  });
});

describe('rollups', () => {
  test("a cohort that lags its finished runs (between roll-ups) still gives the frequencies of the rolled-up runs that dropped theirs; the others' are their own", async () => {
    const lagging = join(folder.path, 'lagging.sqlite');
    copyFileSync(full, lagging);
    const db = openDatabase(lagging);
    let cohort: { dmax: number; data_path: string; runs: number };
    try {
      db.transaction(() => {
        // The enwik windows at Dmax 5 (4 runs): the last one finishes after the cohort was made.
        const members = db
          .prepare(`SELECT run_key FROM runs WHERE dmax = 5 AND data_path = ? ORDER BY run_key`)
          .pluck()
          .all(SHARED_DATA) as number[];
        assert.equal(members.length, 4);
        const last = members[3];
        db.prepare(`UPDATE runs SET status = 'running' WHERE run_key = ?`).run(last);
        rebuildJobRollups(db, 1);
        db.prepare(`UPDATE runs SET status = 'done' WHERE run_key = ?`).run(last);
        db.prepare(`UPDATE job_runs SET rolled_up = 0 WHERE run_key = ?`).run(last);
        // The rolled-up ones were kept as summaries: their own frequencies (and peaks) are gone.
        for (const runKey of members.slice(0, 3)) {
          db.prepare(`UPDATE runs SET keep = 'summaries' WHERE run_key = ?`).run(runKey);
          db.prepare(`DELETE FROM pattern_peak_rows WHERE run_key = ?`).run(runKey);
          db.prepare(`DELETE FROM pattern_frequency_rows WHERE run_key = ?`).run(runKey);
        }
        cohort = db.prepare(`SELECT dmax, data_path, runs FROM job_cohorts WHERE dmax = 5 AND data_path = ?`).get(SHARED_DATA) as typeof cohort;
      })();
    } finally {
      closeDatabase(db);
    }
    assert.deepEqual(cohort!, { dmax: 5, data_path: SHARED_DATA, runs: 3 }, 'the cohort lags: 3 of its 4 finished runs');
    for (const args of [['--all', '--dmax', '5', '--sections', 'frequency', '--format', 'json'], ['--all', '--dmax', '5', '--data', SHARED_DATA, '--sections', 'frequency']]) {
      assert.equal(await report(lagging, args), await report(full, args), args.join(' '));
    }
  });

  test('the reports read from them are the reports read run by run', async () => {
    assert.equal(count(noRollups, 'SELECT count(*) FROM job_cohorts'), 0);
    // A cohort per Dmax and data file.
    assert.equal(count(full, 'SELECT count(*) FROM job_cohorts'), 4);
    for (const args of REPORTS) assert.equal(await report(full, args), await report(noRollups, args), args.join(' '));
  });

  test('made run by run as the runs finish, they equal rollups made from scratch', () => {
    const rebuilt = join(folder.path, 'rebuilt.sqlite');
    copyFileSync(full, rebuilt);
    const tables = ['job_cohorts', 'cohort_tau_stats', 'cohort_depth', 'cohort_pattern_levels'];
    const rowsOf = (db: Database.Database) => tables.map((table) => db.prepare(`SELECT * FROM ${table} ORDER BY 1, 2, 3, 4, 5, 6`).raw().all());
    const db = openDatabase(rebuilt);
    try {
      const before = rowsOf(db);
      db.transaction(() => rebuildJobRollups(db, 1))();
      assert.deepEqual(rowsOf(db), before);
      assert.ok(before[3].length > 0);
    } finally {
      closeDatabase(db);
    }
  });

  test('a cohort of every data file (data_path \'\', what schema 6 left where it could not split one) is kept by a rebuild and read for the groups that hold it whole', async () => {
    const every = join(folder.path, 'every-file.sqlite');
    copyFileSync(full, every);
    const db = openDatabase(every);
    try {
      db.transaction(() => {
        db.exec(`DELETE FROM cohort_frequency_rows; DELETE FROM cohort_frequency; DELETE FROM cohort_pattern_levels; DELETE FROM cohort_depth; DELETE FROM cohort_tau_stats; DELETE FROM job_cohorts;
                 INSERT INTO job_cohorts (job_id, model_key, dmax, data_path, runs, positions, surprisal_sum, surprisal_err, peaks_complete)
                   SELECT DISTINCT jr.job_id, r.model_key, r.dmax, '', 0, 0, 0, 0, 1 FROM job_runs jr JOIN runs r USING (run_key)`);
        rebuildJobRollups(db, 1);
      })();
    } finally {
      closeDatabase(db);
    }
    // One cohort per Dmax, of all 7 windows of both files.
    assert.equal(count(every, `SELECT count(*) FROM job_cohorts WHERE data_path = '' AND runs = 7`), 2);
    assert.equal(count(every, `SELECT count(*) FROM job_cohorts WHERE data_path <> ''`), 0);
    for (const args of REPORTS) assert.equal(await report(every, args), await report(noRollups, args), args.join(' '));
  });

  test('after rm of some runs the rollups are those of the runs kept', async () => {
    const pruned = join(folder.path, 'pruned.sqlite');
    copyFileSync(full, pruned);
    const runs = await cliHere(['sql', '--db', pruned, '--format', 'json', `SELECT run_id FROM runs WHERE dmax = 20 AND data_offset = 0`]);
    const [{ run_id: gone }] = JSON.parse(runs.stdout) as { run_id: string }[];
    const removed = await cliHere(['rm', '--db', pruned, '--run', gone]);
    assert.equal(removed.code, 0, removed.stderr);
    assert.equal(count(pruned, `SELECT sum(runs) FROM job_cohorts WHERE dmax = 20`), 6);
    assert.equal(count(pruned, `SELECT c.runs FROM job_cohorts c WHERE c.dmax = 20 AND c.data_path = '${SHARED_DATA}'`), 3);
    const cohortReport = await report(pruned, ['--all', '--dmax', '20', '--format', 'json']);
    deleteRollups(pruned);
    assert.equal(cohortReport, await report(pruned, ['--all', '--dmax', '20', '--format', 'json']));
  });
});
