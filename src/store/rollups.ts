import { ExactSum, type PatternClass } from '../engine/index.js';
import { codePointsOf, decodeCodePoints } from './codePoints.js';
import { CohortFrequency } from './cohortFrequency.js';
import type { Db } from './db.js';
import { activeByRank, levelsOfPeaks, sortedThresholds, type PatternLevels } from './levels.js';
import { keepSummariesOnly } from './retention.js';
import { perConnection } from './statements.js';
import { DepthSums, TauSums, type DepthSumRow, type TauSumRow } from './sums.js';
import { heldCohort, releaseHeldRuns, type HeldCohort, type RunRollupRows } from './heldRollups.js';
import { COHORT_DATA_OF, IN_COHORT, cohortId, type CohortKey } from './cohorts.js';

/**
 * Rollups: a job's finished runs of one model, Dmax and data file (a *cohort*)
 * summed up, kept up to date as runs finish, so that the report of a whole job,
 * or of its models, Dmax values or data files (any grouping by those keys: each
 * group is a union of whole cohorts), reads a few rows per cohort however many runs and
 * positions it has (queries.ts falls back to the runs' own summaries for what
 * no fresh cohort covers). Everything is exact: split sums stay split sums,
 * histograms of n merge, pattern levels (levels.ts) merge by max.
 *
 * A cohort's `runs` is how many runs went in; a reader uses the cohort only
 * when that equals its finished runs now, so a stale cohort is never read.
 */

/**
 * A cohort of one run would repeat its run's summaries: cohorts are kept from two
 * runs on, or from the first run kept as summaries (whose peaks, gone once it is
 * done, only the cohort's levels keep).
 */
const MIN_COHORT_RUNS = 2;

function wantsCohort(db: Db, key: CohortKey): boolean {
  const s = statements(db);
  return (s.cohortRunsDoneCount.get(key) as number) >= MIN_COHORT_RUNS || s.cohortHasSummaries.get(key) !== undefined;
}

/** The rollup tables, children before their parent job_cohorts. */
const ROLLUP_TABLES_CHILDREN_FIRST = ['cohort_frequency_rows', 'cohort_frequency', 'cohort_pattern_levels', 'cohort_depth', 'cohort_tau_stats', 'job_cohorts'] as const;

const statements = perConnection((db: Db) => {
  const cohort = 'job_id = @job_id AND model_key = @model_key AND dmax = @dmax AND data_path = @data_path';
  return {
    jobCohorts: db.prepare(`SELECT DISTINCT jr.job_id, r.model_key, r.dmax, ${COHORT_DATA_OF} AS data_path FROM job_runs jr JOIN runs r USING (run_key) WHERE jr.job_id = ?`),
    cohortRunsDone: db
      .prepare(`SELECT r.run_key FROM job_runs jr JOIN runs r USING (run_key) WHERE ${IN_COHORT} AND r.status = 'done' ORDER BY r.run_key`)
      .pluck(),
    cohortRunsDoneCount: db
      .prepare(`SELECT count(*) FROM job_runs jr JOIN runs r USING (run_key) WHERE ${IN_COHORT} AND r.status = 'done'`)
      .pluck(),
    cohortHasSummaries: db
      .prepare(`SELECT 1 FROM job_runs jr JOIN runs r USING (run_key) WHERE ${IN_COHORT} AND r.status = 'done' AND r.keep = 'summaries' LIMIT 1`)
      .pluck(),
    cohort: db.prepare(`SELECT * FROM job_cohorts WHERE ${cohort}`),
    pendingRollUps: db.prepare(
      `SELECT jr.job_id, r.model_key, r.dmax, ${COHORT_DATA_OF} AS data_path, jr.run_key FROM job_runs jr JOIN runs r USING (run_key)
       WHERE jr.rolled_up = 0 AND r.status = 'done' ORDER BY jr.job_id, r.model_key, r.dmax, data_path, jr.run_key`,
    ),
    markRolledUp: db.prepare(`UPDATE job_runs SET rolled_up = 1 WHERE job_id = ? AND run_key = ?`),
    markCohortRolledUp: db.prepare(
      `UPDATE job_runs SET rolled_up = 1 WHERE job_id = @job_id AND rolled_up = 0
         AND run_key IN (SELECT run_key FROM runs WHERE model_key = @model_key AND dmax = @dmax AND (@data_path = '' OR data_path = @data_path) AND status = 'done')`,
    ),
    summariesRolledUp: db
      .prepare(
        `SELECT r.run_key FROM runs r WHERE r.keep = 'summaries' AND r.status = 'done'
           AND EXISTS (SELECT 1 FROM pattern_peak_rows p WHERE p.run_key = r.run_key)
           AND NOT EXISTS (SELECT 1 FROM job_runs jr WHERE jr.run_key = r.run_key AND jr.rolled_up = 0)`,
      )
      .pluck(),
    deleteCohort: ROLLUP_TABLES_CHILDREN_FIRST.map((table) => db.prepare(`DELETE FROM ${table} WHERE ${cohort}`)),
    deleteJob: ROLLUP_TABLES_CHILDREN_FIRST.map((table) => db.prepare(`DELETE FROM ${table} WHERE job_id = ?`)),
    upsertCohort: db.prepare(
      `INSERT INTO job_cohorts (job_id, model_key, dmax, data_path, runs, positions, surprisal_sum, surprisal_err, peaks_complete)
       VALUES (@job_id, @model_key, @dmax, @data_path, @runs, @positions, @surprisal_sum, @surprisal_err, @peaks_complete)
       ON CONFLICT (job_id, model_key, dmax, data_path) DO UPDATE SET runs = excluded.runs, positions = excluded.positions,
         surprisal_sum = excluded.surprisal_sum, surprisal_err = excluded.surprisal_err, peaks_complete = excluded.peaks_complete`,
    ),
    cohortTauStats: db.prepare(`SELECT * FROM cohort_tau_stats WHERE ${cohort}`),
    upsertTauStats: db.prepare(
      `INSERT OR REPLACE INTO cohort_tau_stats (job_id, model_key, dmax, data_path, tau_index, tau, positions, sum_x, sum_h, sum_y, min_n, median_n, max_n,
         distinct_n, hist_steps, hist_large, hist_positions, active_x, active_h, active_y)
       VALUES (@job_id, @model_key, @dmax, @data_path, @tau_index, @tau, @positions, @sum_x, @sum_h, @sum_y, @min_n, @median_n, @max_n,
         @distinct_n, @hist_steps, @hist_large, @hist_positions, @active_x, @active_h, @active_y)`,
    ),
    cohortDepth: db.prepare(`SELECT d, positions, mass_sum, mass_err FROM cohort_depth WHERE ${cohort}`),
    upsertDepth: db.prepare(
      `INSERT OR REPLACE INTO cohort_depth (job_id, model_key, dmax, data_path, d, positions, mass_sum, mass_err) VALUES (@job_id, @model_key, @dmax, @data_path, @d, @positions, @mass_sum, @mass_err)`,
    ),
    cohortLevels: db.prepare(`SELECT class, row, levels FROM cohort_pattern_levels WHERE ${cohort}`),
    upsertLevels: db.prepare(
      `INSERT OR REPLACE INTO cohort_pattern_levels (job_id, model_key, dmax, data_path, class, row, levels) VALUES (@job_id, @model_key, @dmax, @data_path, @class, @row, @levels)`,
    ),
    runTaus: db.prepare(`SELECT tau_index, tau, tau_f32 FROM run_taus WHERE run_key = ? ORDER BY tau_index`),
    hidden: db.prepare(`SELECT hidden FROM models WHERE model_key = ?`).pluck(),
    runStats: db.prepare(`SELECT * FROM run_tau_stats WHERE run_key = ?`),
    runDepth: db.prepare(`SELECT d, positions, mass_sum, mass_err FROM run_depth WHERE run_key = ?`),
    runSurprisal: db.prepare(`SELECT count, surprisal_sum, surprisal_err FROM shards WHERE run_key = ?`),
    runKeepsPeaks: db.prepare(`SELECT keep = 'full' OR EXISTS (SELECT 1 FROM pattern_peak_rows p WHERE p.run_key = r.run_key) FROM runs r WHERE run_key = ?`).pluck(),
  };
});


/** A summary at one τ of a run or cohort, with its τ. */
type TauRow = TauSumRow & { readonly tau_index: number; readonly tau: number };

/** What runLevels reads: statements of their own, as the migration from schema 3 calls it before the rollup tables have their current columns. */
const runLevelStatements = perConnection((db: Db) => ({
  runTaus: db.prepare(`SELECT tau_index, tau, tau_f32 FROM run_taus WHERE run_key = ? ORDER BY tau_index`),
  runPeaks: db.prepare(`SELECT class, row, peaks FROM pattern_peak_rows WHERE run_key = ?`),
}));

/** A run's per-pattern levels at its thresholds, from its stored peak rows. */
export function runLevels(db: Db, runKey: number): { levels: PatternLevels[]; thresholds: Float64Array } {
  const s = runLevelStatements(db);
  const thresholds = sortedThresholds((s.runTaus.all(runKey) as { tau_f32: number }[]).map((row) => row.tau_f32));
  const levels = (s.runPeaks.all(runKey) as { class: PatternClass; row: number; peaks: Buffer }[]).map((row) => ({
    cls: row.class,
    row: row.row,
    levels: levelsOfPeaks(row.peaks, thresholds),
  }));
  return { levels, thresholds };
}

/** Per τ index of a run, the rank of its float32 among the run's thresholds. */
function ranksOf(taus: readonly { tau_index: number; tau_f32: number }[], thresholds: Float64Array): Map<number, number> {
  return new Map(taus.map((row) => [row.tau_index, thresholds.indexOf(row.tau_f32)]));
}

/**
 * Adds the finished runs that are not in their jobs' rollups yet
 * (`job_runs.rolled_up = 0`) to them, cohort by cohort, in the caller's
 * transaction, and then lets a run kept as `summaries` that every job has rolled
 * up drop its peaks (retention.ts). Runs are added in batches (rollUpIfDue), so a
 * cohort's rows are read and written once per batch, not once per run; until
 * then a reader finds the cohort stale and reads those runs one by one.
 */
export function rollUp(db: Db): void {
  const s = statements(db);
  const pending = s.pendingRollUps.all() as (CohortKey & { run_key: number })[];
  const byCohort = new Map<string, { key: CohortKey; runKeys: number[] }>();
  for (const row of pending) {
    const id = cohortId(row);
    let cohort = byCohort.get(id);
    if (cohort === undefined) {
      cohort = { key: { job_id: row.job_id, model_key: row.model_key, dmax: row.dmax, data_path: row.data_path }, runKeys: [] };
      byCohort.set(id, cohort);
    }
    cohort.runKeys.push(row.run_key);
  }
  try {
    for (const { key, runKeys } of byCohort.values()) {
      if (s.cohort.get(key) !== undefined) {
        addRuns(db, key, runKeys, false, heldCohort(db, key, runKeys));
        for (const runKey of runKeys) s.markRolledUp.run(key.job_id, runKey);
      } else if (wantsCohort(db, key)) rebuildCohort(db, key, true);
    }
  } finally {
    // Whatever the writer held is in the cohorts now, or is read from the store next time.
    releaseHeldRuns(db);
  }
  for (const runKey of s.summariesRolledUp.all() as number[]) keepSummariesOnly(db, runKey);
}

const lastRollUp = new WeakMap<Db, number>();

/** rollUp in its own transaction, when `intervalMs` have passed since the last (a writer calls it after each finished run). */
export function rollUpIfDue(db: Db, intervalMs = ROLL_UP_INTERVAL_MS): void {
  const now = performance.now();
  if (now - (lastRollUp.get(db) ?? -Infinity) < intervalMs) return;
  lastRollUp.set(db, now);
  db.transaction(() => rollUp(db)).immediate();
}

/** How often a writer adds its finished runs to the rollups: a batch costs a read and a write of each cohort (up to a few MB), so every 30 s and at the end of the job. */
export const ROLL_UP_INTERVAL_MS = 30_000;

/** Rebuilds every cohort of a job from its finished runs' stored summaries (a cohort of every data file stays one). */
export function rebuildJobRollups(db: Db, jobId: number): void {
  const s = statements(db);
  const keys = s.jobCohorts.all(jobId) as CohortKey[];
  for (const statement of s.deleteJob) statement.run(jobId);
  for (const key of keys) rebuildCohort(db, key);
}

/** Rebuilds the rollups of the jobs whose cohorts do not match their finished runs (after a merge, a delete, a migration). */
export function refreshStaleRollups(db: Db): void {
  const stale = db
    .prepare(
      `WITH done AS (
         SELECT jr.job_id, r.model_key, r.dmax, ${COHORT_DATA_OF} AS data_path, count(*) AS runs FROM job_runs jr JOIN runs r USING (run_key)
         WHERE r.status = 'done' GROUP BY jr.job_id, r.model_key, r.dmax, 4)
       SELECT DISTINCT job_id FROM (
         SELECT d.job_id FROM done d LEFT JOIN job_cohorts c USING (job_id, model_key, dmax, data_path)
         WHERE c.runs IS NOT d.runs AND (d.runs >= ${MIN_COHORT_RUNS} OR c.runs IS NOT NULL)
         UNION ALL
         SELECT c.job_id FROM job_cohorts c LEFT JOIN done d USING (job_id, model_key, dmax, data_path) WHERE d.runs IS NOT c.runs)`,
    )
    .pluck()
    .all() as number[];
  for (const jobId of stale) rebuildJobRollups(db, jobId);
}

/** `useHeld`: the runs the writer holds (heldRollups.ts) are taken from it (rollUp's new cohort; a rebuild reads every run). */
function rebuildCohort(db: Db, key: CohortKey, useHeld = false): void {
  const s = statements(db);
  for (const statement of s.deleteCohort) statement.run(key);
  const done = s.cohortRunsDone.all(key) as number[];
  if (done.length > 0 && wantsCohort(db, key)) {
    addRuns(db, key, done, true, useHeld ? heldCohort(db, key, done) : undefined);
    s.markCohortRolledUp.run(key);
  }
}

/** The few rows of a finished run that a roll-up reads (its τ, summaries, depth, shards): also read by its writer as it finishes it (heldRollups.ts). */
export function runRollupRows(db: Db, runKey: number): RunRollupRows {
  const s = statements(db);
  return {
    taus: s.runTaus.all(runKey) as RunRollupRows['taus'],
    stats: s.runStats.all(runKey) as RunRollupRows['stats'],
    depth: s.runDepth.all(runKey) as RunRollupRows['depth'],
    shards: s.runSurprisal.all(runKey) as RunRollupRows['shards'],
    keepsPeaks: s.runKeepsPeaks.get(runKey) === 1,
  };
}

/**
 * Adds runs to a cohort (a new one when `fresh`): merged, then written back.
 * `held`: what the writer holds of some of them (each among `runKeys`), so their
 * frequency and peak rows are not read back; the others are read.
 */
function addRuns(db: Db, key: CohortKey, runKeys: readonly number[], fresh: boolean, held?: HeldCohort): void {
  const s = statements(db);
  const old = fresh ? undefined : (s.cohort.get(key) as { runs: number; positions: number; surprisal_sum: number; surprisal_err: number; peaks_complete: number });
  const surprisal = new ExactSum();
  let positions = old?.positions ?? 0;
  if (old !== undefined) {
    surprisal.add(old.surprisal_sum);
    surprisal.add(old.surprisal_err);
  }
  let peaksComplete = old === undefined ? true : old.peaks_complete === 1;

  const tauStats = new Map<number, { tau: number; sums: TauSums }>();
  const mergeTau = (row: TauRow) => {
    let into = tauStats.get(row.tau_index);
    if (into === undefined) {
      into = { tau: row.tau, sums: new TauSums() };
      tauStats.set(row.tau_index, into);
    }
    into.sums.add(row);
  };
  const depth = new DepthSums();
  const mergeDepth = (row: DepthSumRow) => depth.add(row);
  const levels = new Map<string, PatternLevels>();
  const mergeLevels = (row: PatternLevels) => {
    const id = `${row.cls}:${row.row}`;
    const into = levels.get(id);
    if (into === undefined) levels.set(id, { cls: row.cls, row: row.row, levels: Uint32Array.from(row.levels) });
    else for (let k = 0; k < into.levels.length; k++) if (row.levels[k] > into.levels[k]) into.levels[k] = row.levels[k];
  };

  if (old !== undefined) {
    for (const row of s.cohortTauStats.all(key) as TauRow[]) mergeTau(row);
    for (const row of s.cohortDepth.all(key) as { d: number; positions: number; mass_sum: number; mass_err: number }[]) mergeDepth(row);
    for (const row of s.cohortLevels.all(key) as { class: PatternClass; row: number; levels: Buffer }[]) {
      mergeLevels({ cls: row.class, row: row.row, levels: decodeLevels(row.levels, row.class, db, key) });
    }
  }

  const frequency = new CohortFrequency(db, s.hidden.get(key.model_key) as number);
  if (old !== undefined) frequency.loadCohort(key);
  if (held !== undefined) frequency.addHeld(held.frequency);
  // The held runs' levels: of their peaks' maximum, merged (by max) where the first held run with that row would merge its own.
  const heldLevels = held?.levels();

  let taus: RunRollupRows['taus'] = [];
  for (const runKey of runKeys) {
    const heldRun = held?.runs.get(runKey);
    if (heldRun === undefined) frequency.addRun(runKey);
    const rows = heldRun?.rows ?? runRollupRows(db, runKey);
    taus = rows.taus;
    const tauOf = new Map(taus.map((row) => [row.tau_index, row.tau]));
    for (const row of rows.stats) mergeTau({ ...row, tau: tauOf.get(row.tau_index) as number });
    for (const row of rows.depth) mergeDepth(row);
    for (const shard of rows.shards) {
      positions += shard.count;
      surprisal.add(shard.surprisal_sum);
      surprisal.add(shard.surprisal_err);
    }
    if (!rows.keepsPeaks) peaksComplete = false;
    else if (heldRun !== undefined && heldLevels !== undefined) {
      heldRun.peakRows.forEach((stored, slot) => {
        const row = heldLevels[slot];
        if (stored === 1 && row !== undefined) {
          mergeLevels(row);
          heldLevels[slot] = undefined;
        }
      });
    } else for (const row of runLevels(db, runKey).levels) mergeLevels(row);
  }
  if (taus.length === 0) taus = s.runTaus.all(runKeys[0]) as typeof taus;

  const [surprisalSum, surprisalErr] = surprisal.split();
  s.upsertCohort.run({
    ...key,
    runs: (old?.runs ?? 0) + runKeys.length,
    positions,
    surprisal_sum: surprisalSum,
    surprisal_err: surprisalErr,
    peaks_complete: peaksComplete ? 1 : 0,
  });
  const thresholds = sortedThresholds(taus.map((row) => row.tau_f32));
  const ranks = ranksOf(taus, thresholds);
  const active = activeByRank(levels.values(), thresholds.length);
  for (const [tauIndex, { tau, sums }] of tauStats) {
    const rank = ranks.get(tauIndex) as number;
    const { positions: at, sum_x, sum_h, sum_y, min_n, max_n, histogram } = sums;
    s.upsertTauStats.run({
      ...key,
      tau_index: tauIndex,
      tau,
      positions: at,
      sum_x,
      sum_h,
      sum_y,
      min_n,
      max_n,
      median_n: histogram.median(),
      ...histogram.encode(),
      active_x: active.wx[rank],
      active_h: active.wh[rank],
      active_y: active.wy[rank],
    });
  }
  for (const { d, positions: at, mass } of depth.entries()) {
    const [massSum, massErr] = mass.split();
    s.upsertDepth.run({ ...key, d, positions: at, mass_sum: massSum, mass_err: massErr });
  }
  for (const row of levels.values()) s.upsertLevels.run({ ...key, class: row.cls, row: row.row, levels: codePointsOf(row.levels) });
  frequency.write(key);
}

/** A cohort's stored level row: H values (Wx, Wy rows) or H² (the Wh row). */
function decodeLevels(blob: Buffer, cls: PatternClass, db: Db, key: CohortKey): Uint32Array {
  const hidden = statements(db).hidden.get(key.model_key) as number;
  return decodeCodePoints(blob, cls === 'wh' ? hidden * hidden : hidden);
}
