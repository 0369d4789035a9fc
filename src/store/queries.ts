import type { Statement } from 'better-sqlite3';
import { decodeCountBlock } from './countBlocks.js';
import type { Db } from './db.js';
import { ExactSum, type RuleName } from '../engine/index.js';
import { InputError } from '../errors.js';
import { CountHistogram } from './histogram.js';
import { DepthSums, TauSums, type DepthSumRow } from './sums.js';
import { pagePatterns, PAGE_TAU } from './retention.js';
import { planSelection, type Runs } from './selection.js';
import type { SelectionPlan } from './selectionPlan.js';
import { IN_COHORT } from './cohorts.js';
import { RUN_DEPTH_SELECT } from './summaries.js';
import { tauStatsOfRun, type TauStats } from './tauStats.js';
import { BYTE_VALUES } from '../engine/index.js';
import { decodeCodePoints } from './codePoints.js';
import { floats } from './functions.js';
import { perConnectionAndKey } from './statements.js';

/**
 * Every statistic of the results page, as SQL over a selection of runs. A
 * selection is a JSON array of run ids bound to `?` and opened with json_each,
 * so one prepared statement serves any number of runs. Reports read the per-run
 * summaries of finished runs (a few rows per run) and compute the same
 * summaries from the per-position rows only for runs still in progress, so
 * their cost grows with the number of runs, not of positions.
 */

const statements = perConnectionAndKey<string, Statement>();

/** A statement prepared once per connection and reused (better-sqlite3 statements are reusable). */
function prepared(db: Db, sql: string): Statement {
  return statements(db, sql, () => db.prepare(sql));
}

export interface RunRow {
  readonly run_id: string;
  readonly model_sha256: string;
  readonly model_path: string;
  readonly hidden: number;
  readonly data_path: string;
  readonly data_offset: number;
  readonly data_length: number;
  readonly data_sha256: string;
  readonly dmax: number;
  readonly positions: number;
  /** 1 when every position's depth mass at every offset is kept (`depth_mass`). */
  readonly depth_curves: number;
  /** What the run keeps once done: every row, or its summaries. */
  readonly keep: 'full' | 'summaries';
  readonly positions_done: number;
  readonly status: 'pending' | 'running' | 'done';
  readonly compute_seconds: number;
  readonly started_at: string | null;
  readonly finished_at: string | null;
  /** The run's thresholds in its order (from `runs.tau_list`, the text the sqlite3 shell shows). */
  readonly taus: readonly number[];
  readonly tool_version: string;
  /** The attribution rule (src/engine/computation.ts). */
  readonly rule: RuleName;
  /** Bytes read before the window from h = 0 (a warm window; 0: cold, the spec's). data_sha256 is of those and the window's. */
  readonly burn_in: number;
}

const POSITIONS_DONE = `CASE r.status WHEN 'done' THEN r.positions ELSE (SELECT coalesce(sum(count), 0) FROM shards s WHERE s.run_key = r.run_key) END`;
const RUN_COLUMNS = `r.run_key, r.model_key, r.run_id, r.data_path, r.data_offset, r.data_length, r.data_sha256, r.dmax, r.positions,
  r.depth_curves, r.keep, r.status, r.compute_seconds, r.started_at, r.finished_at, r.tool_version, ${POSITIONS_DONE}, r.tau_list, r.rule, r.burn_in`;

type RawRun = [number, number, string, string, number, number, string, number, number, number, RunRow['keep'], RunRow['status'], number, string | null, string | null, string, number, string, RuleName, number];

/**
 * All runs, oldest first, or those of one job in job order. Rows come raw and
 * the model's columns from one read of `models`: a job of 10⁵ runs is listed
 * without a join or a row object per column name. (Reports do not list runs:
 * they select them in SQL, selected.ts.)
 */
export function listRuns(db: Db, jobId?: number): RunRow[] {
  const models = new Map(
    (prepared(db, `SELECT model_key, model_sha256, path, hidden FROM models`).raw().all() as [number, string, string, number][]).map(
      ([key, sha256, path, hidden]) => [key, { sha256, path, hidden }],
    ),
  );
  const raw = (
    jobId === undefined
      ? prepared(db, `SELECT ${RUN_COLUMNS} FROM runs r ORDER BY r.run_key`).raw().all()
      : prepared(db, `SELECT ${RUN_COLUMNS} FROM job_runs jr JOIN runs r USING (run_key) WHERE jr.job_id = ? ORDER BY jr.run_order`).raw().all(jobId)
  ) as RawRun[];
  const runs = raw.map((row): RunRow => {
    const [, model_key, run_id, data_path, data_offset, data_length, data_sha256, dmax, positions, depth_curves, keep, status] = row;
    const [, , , , , , , , , , , , compute_seconds, started_at, finished_at, tool_version, positions_done, taus, rule, burn_in] = row;
    const model = models.get(model_key) as { sha256: string; path: string; hidden: number };
    // The columns in the order `runs --format json` has always printed them.
    return {
      run_id,
      model_sha256: model.sha256,
      model_path: model.path,
      hidden: model.hidden,
      data_path,
      data_offset,
      data_length,
      data_sha256,
      dmax,
      positions,
      depth_curves,
      keep,
      status,
      compute_seconds,
      started_at,
      finished_at,
      tool_version,
      positions_done,
      taus: taus === '' ? [] : taus.split(',').map(Number),
      rule,
      burn_in,
    };
  });
  return runs;
}

/** A job as recorded, without its runs counted. */
export interface JobHead {
  readonly job_id: number;
  readonly name: string;
  readonly source: string | null;
  readonly spec_json: string;
  readonly created_at: string;
  readonly last_started_at: string | null;
}

export interface JobRow extends JobHead {
  readonly runs: number;
  readonly runs_done: number;
}

const JOB_HEAD = `j.job_id, j.name, j.source, j.spec_json, j.created_at, j.last_started_at`;
const JOB_COUNTS = `(SELECT count(*) FROM job_runs jr WHERE jr.job_id = j.job_id) AS runs,
  (SELECT count(*) FROM job_runs jr JOIN runs r USING (run_key) WHERE jr.job_id = j.job_id AND r.status = 'done') AS runs_done`;
const JOB_ORDER = `ORDER BY coalesce(j.last_started_at, j.created_at), j.job_id`;

export function listJobs(db: Db): JobRow[] {
  return prepared(db, `SELECT ${JOB_HEAD}, ${JOB_COUNTS} FROM jobs j ${JOB_ORDER}`).all() as JobRow[];
}

/** A job's runs and finished runs (counting reads every run of the job: only when needed). */
export function jobCounts(db: Db, jobId: number): { runs: number; runs_done: number } {
  return prepared(db, `SELECT ${JOB_COUNTS} FROM jobs j WHERE j.job_id = ?`).get(jobId) as { runs: number; runs_done: number };
}

/** The jobs whose id is `id` or whose name is `name`. */
export function jobsNamed(db: Db, id: number | null, name: string): JobHead[] {
  return prepared(db, `SELECT ${JOB_HEAD} FROM jobs j WHERE j.job_id = ? OR j.name = ? ${JOB_ORDER}`).all(id, name) as JobHead[];
}

/** The job most recently started, if any. */
export function latestJob(db: Db): JobHead | undefined {
  return prepared(db, `SELECT ${JOB_HEAD} FROM jobs j ORDER BY coalesce(j.last_started_at, j.created_at) DESC, j.job_id DESC LIMIT 1`).get() as JobHead | undefined;
}

export interface ModelRow {
  readonly model_key: number;
  readonly model_sha256: string;
  readonly path: string;
  readonly hidden: number;
  readonly significant_wx: number;
  readonly significant_wh: number;
  readonly significant_wy: number;
  readonly significant_total: number;
}

/** The distinct models of a selection. */
export function selectionModels(db: Db, runs: Runs): ModelRow[] {
  const plan = planSelection(db, runs);
  const keys = [...plan.cohorts.map((cohort) => cohort.some_run_key), ...plan.runs.map((run) => run.run_key)];
  return prepared(
    db,
    `SELECT m.* FROM models m WHERE m.model_key IN (SELECT r.model_key FROM json_each(?) j JOIN runs r ON r.run_key = j.value) ORDER BY m.model_sha256`,
  ).all(JSON.stringify(keys)) as ModelRow[];
}

/** A model's row. */
export function modelOf(db: Db, modelKey: number): ModelRow {
  return prepared(db, `SELECT m.* FROM models m WHERE m.model_key = ?`).get(modelKey) as ModelRow;
}

export interface SurprisalRow {
  readonly positions: number;
  readonly bpc: number | null;
}

/** Positions and bpc (mean surprisal, from the exact sums of the shards, or of the cohorts that cover them) of a selection. */
export function surprisalSummary(db: Db, runs: Runs): SurprisalRow {
  const plan = planSelection(db, runs);
  const cohort = prepared(db, `SELECT positions, surprisal_sum, surprisal_err FROM job_cohorts WHERE job_id = @job_id AND model_key = @model_key AND dmax = @dmax AND data_path = @data_path`);
  const shards = prepared(db, `SELECT count AS positions, surprisal_sum, surprisal_err FROM shards WHERE run_key = ?`);
  function* rows(): IterableIterator<SurprisalSumRow> {
    for (const key of plan.cohorts) yield cohort.get(key) as SurprisalSumRow;
    for (const run of plan.runs) yield* shards.iterate(run.run_key) as IterableIterator<SurprisalSumRow>;
  }
  return surprisalOf(rows());
}

/** Split surprisal sums over some positions (a shard's, a cohort's). */
export interface SurprisalSumRow {
  readonly positions: number;
  readonly surprisal_sum: number;
  readonly surprisal_err: number;
}

/** Positions and bpc of split surprisal sums added up exactly: what surprisalSummary gives, from rows read elsewhere. */
export function surprisalOf(rows: Iterable<SurprisalSumRow>): SurprisalRow {
  const sum = new ExactSum();
  let positions = 0;
  for (const row of rows) {
    positions += row.positions;
    sum.add(row.surprisal_sum);
    sum.add(row.surprisal_err);
  }
  return { positions, bpc: positions === 0 ? null : sum.value() / positions };
}

export interface SparsityRow {
  readonly tau: number;
  readonly positions: number;
  readonly mean: number;
  /** The element at index ⌊(count-1)/2⌋ of the ascending counts (spec). */
  readonly median: number;
  readonly min: number;
  readonly max: number;
  readonly mean_wx: number;
  readonly mean_wh: number;
  readonly mean_wy: number;
}

/** A selected run's summaries at one τ (as stored, or computed for a run not done), with the τ as given. */
export type SelectedTauStats = Pick<TauStats, 'positions' | 'sum_x' | 'sum_h' | 'sum_y' | 'min_n' | 'median_n' | 'max_n' | 'distinct_n' | 'hist_steps' | 'hist_large' | 'hist_positions'> & {
  readonly tau: number;
};

/**
 * The selection's per-τ summaries, a cohort or a run at a time: the rollups of
 * the cohorts that cover it (selection.ts), the stored rows of the other
 * finished runs, computed from the count blocks for runs not done. One
 * cohort's or run's rows at a time are in memory, so the callers' merges are
 * bounded by the distinct values of n.
 */
function* selectedTauStats(db: Db, plan: SelectionPlan): IterableIterator<SelectedTauStats> {
  const cohort = prepared(
    db,
    `SELECT tau, positions, sum_x, sum_h, sum_y, min_n, median_n, max_n, distinct_n, hist_steps, hist_large, hist_positions
     FROM cohort_tau_stats WHERE job_id = @job_id AND model_key = @model_key AND dmax = @dmax AND data_path = @data_path`,
  );
  const stored = prepared(
    db,
    `SELECT rt.tau, s.positions, s.sum_x, s.sum_h, s.sum_y, s.min_n, s.median_n, s.max_n, s.distinct_n, s.hist_steps, s.hist_large, s.hist_positions
     FROM run_tau_stats s JOIN run_taus rt USING (run_key, tau_index) WHERE s.run_key = ?`,
  );
  const taus = prepared(db, `SELECT tau_index, tau FROM run_taus WHERE run_key = ?`);
  for (const key of plan.cohorts) yield* cohort.iterate(key) as IterableIterator<SelectedTauStats>;
  for (const run of plan.runs) {
    if (run.status === 'done') {
      yield* stored.iterate(run.run_key) as IterableIterator<SelectedTauStats>;
      continue;
    }
    const tauOf = new Map((taus.all(run.run_key) as { tau_index: number; tau: number }[]).map((row) => [row.tau_index, row.tau]));
    for (const stats of tauStatsOfRun(db, run.run_key)) yield { ...stats, tau: tauOf.get(stats.tau_index) as number };
  }
}

/**
 * Per τ: the distribution of n = n_x + n_h + n_y over positions, and the class
 * means. The median (the element at index ⌊(count-1)/2⌋ of the ascending
 * counts) comes from the runs' histograms of n merged, not from the
 * per-position rows.
 */
export function sparsityByTau(db: Db, runs: Runs): SparsityRow[] {
  return sparsityOf(selectedTauStats(db, planSelection(db, runs)));
}

/**
 * sparsityOf the stored summaries of one run, each τ once: its rows as they are
 * (alone, a run's stored median is its median), with no sums or histograms to
 * merge: what sparsityOf gives for them, figure for figure, for 10⁵ one-run groups.
 */
export function sparsityOfOneRun(rows: readonly Omit<SelectedTauStats, 'distinct_n' | 'hist_steps' | 'hist_large' | 'hist_positions'>[]): SparsityRow[] {
  return rows
    .filter((row) => row.positions > 0)
    .sort((a, b) => a.tau - b.tau)
    .map((row) => ({
      tau: row.tau,
      positions: row.positions,
      mean: (row.sum_x + row.sum_h + row.sum_y) / row.positions,
      median: row.median_n,
      min: row.min_n,
      max: row.max_n,
      mean_wx: row.sum_x / row.positions,
      mean_wh: row.sum_h / row.positions,
      mean_wy: row.sum_y / row.positions,
    }));
}

/** sparsityByTau from summaries read elsewhere (e.g. one run's, streamed). */
export function sparsityOf(rows: Iterable<SelectedTauStats>): SparsityRow[] {
  const byTau = new Map<number, TauSums>();
  for (const stats of rows) {
    let sums = byTau.get(stats.tau);
    if (sums === undefined) {
      sums = new TauSums();
      byTau.set(stats.tau, sums);
    }
    sums.add(stats);
  }
  return [...byTau]
    .sort(([a], [b]) => a - b)
    .filter(([, sums]) => sums.positions > 0)
    .map(([tau, sums]) => ({
      tau,
      positions: sums.positions,
      mean: (sums.sum_x + sums.sum_h + sums.sum_y) / sums.positions,
      median: sums.median() as number,
      min: sums.min_n,
      max: sums.max_n,
      mean_wx: sums.sum_x / sums.positions,
      mean_wh: sums.sum_h / sums.positions,
      mean_wy: sums.sum_y / sums.positions,
    }));
}

export interface ActiveCountRow {
  readonly n: number;
  readonly positions: number;
}

/**
 * The distribution of n over the positions of a selection at one τ (the value
 * stored, as a report gives it): how many positions have each distinct n,
 * ascending, from the runs' histograms.
 */
export function activeCountDistribution(db: Db, runs: Runs, tau: number): ActiveCountRow[] {
  const histogram = new CountHistogram();
  for (const stats of selectedTauStats(db, planSelection(db, runs))) {
    if (stats.tau === tau) histogram.addStored(stats);
  }
  return histogram.entries();
}

export interface ActivePatternsRow {
  readonly class: 'wx' | 'wh' | 'wy';
  readonly active: number;
}

/** A stored row of active-pattern counts (a run's or a cohort's at one τ) as activePatterns gives it. */
export function activeOf(row: { readonly active_x: number; readonly active_h: number; readonly active_y: number }): ActivePatternsRow[] {
  return [
    { class: 'wx', active: row.active_x },
    { class: 'wh', active: row.active_h },
    { class: 'wy', active: row.active_y },
  ];
}

/**
 * Patterns whose peak attribution exceeds τ (given as the float32 compared) at
 * some position of some selected run that is done, per class. Patterns are
 * identified across runs by (class, src, dst), so the selection must share one
 * model. A cohort or a single run answers from its stored counts at one of its
 * τ; otherwise the patterns are marked, per cohort from its levels and per run
 * from its peaks, and counted once.
 */
export function activePatterns(db: Db, runs: Runs, tauF32: number): ActivePatternsRow[] {
  const plan = planSelection(db, runs);
  const done = plan.runs.filter((run) => run.status === 'done');
  const asRows = activeOf;
  const cohortAt = prepared(
    db,
    `SELECT s.active_x, s.active_h, s.active_y, c.peaks_complete FROM cohort_tau_stats s JOIN job_cohorts c USING (job_id, model_key, dmax, data_path)
     WHERE s.job_id = @job_id AND s.model_key = @model_key AND s.dmax = @dmax AND s.data_path = @data_path AND s.tau_index IN
       (SELECT tau_index FROM run_taus WHERE tau_f32 = @tau AND run_key = (SELECT run_key FROM job_runs jr JOIN runs r USING (run_key)
          WHERE ${IN_COHORT} AND r.status = 'done' LIMIT 1))`,
  );
  const runAt = prepared(
    db,
    `SELECT s.active_x, s.active_h, s.active_y FROM run_tau_stats s JOIN run_taus rt USING (run_key, tau_index) WHERE s.run_key = ? AND rt.tau_f32 = ?`,
  );
  if (plan.cohorts.length === 1 && done.length === 0) {
    const row = cohortAt.get({ ...plan.cohorts[0], tau: tauF32 }) as { active_x: number; active_h: number; active_y: number; peaks_complete: number } | undefined;
    if (row !== undefined && row.peaks_complete === 1) return asRows(row);
  }
  if (plan.cohorts.length === 0 && done.length === 1) {
    const row = runAt.get(done[0].run_key, tauF32) as { active_x: number; active_h: number; active_y: number } | undefined;
    if (row !== undefined) return asRows(row);
  }
  return markActivePatterns(db, plan, done, tauF32);
}

/** activePatterns by marking: each pattern active in some cohort or run, counted once. */
function markActivePatterns(db: Db, plan: SelectionPlan, done: SelectionPlan['runs'], tauF32: number): ActivePatternsRow[] {
  const anyRun = [...plan.cohorts.map((key) => key.some_run_key), ...done.map((run) => run.run_key)][0];
  if (anyRun === undefined) return [];
  const H = prepared(db, `SELECT m.hidden FROM runs r JOIN models m USING (model_key) WHERE r.run_key = ?`).pluck().get(anyRun) as number;
  const marks = { wx: new Uint8Array(BYTE_VALUES * H), wh: new Uint8Array(H * H), wy: new Uint8Array(H * BYTE_VALUES) };
  const mark = (cls: 'wx' | 'wh' | 'wy', row: number, active: (k: number) => boolean, length: number) => {
    const into = marks[cls];
    const base = cls === 'wh' ? 0 : row * H;
    for (let k = 0; k < length; k++) if (active(k)) into[base + k] = 1;
  };
  const levels = prepared(
    db,
    `SELECT class, row, levels FROM cohort_pattern_levels WHERE job_id = @job_id AND model_key = @model_key AND dmax = @dmax AND data_path = @data_path`,
  );
  const complete = prepared(db, `SELECT peaks_complete FROM job_cohorts WHERE job_id = @job_id AND model_key = @model_key AND dmax = @dmax AND data_path = @data_path`).pluck();
  const thresholds = prepared(db, `SELECT tau_f32 FROM run_taus WHERE run_key = ? ORDER BY tau_f32`).pluck();
  const peaks = prepared(db, `SELECT class, row, peaks FROM pattern_peak_rows WHERE run_key = ?`);
  const keeps = prepared(db, `SELECT keep FROM runs WHERE run_key = ?`).pluck();
  const runs = [...done];
  for (const key of plan.cohorts) {
    const rank = (thresholds.all(key.some_run_key) as number[]).indexOf(tauF32);
    if (rank < 0 || complete.get(key) !== 1) {
      // No level for this τ: the cohort's runs answer from their own peaks.
      runs.push(...key.members());
      continue;
    }
    for (const row of levels.iterate(key) as Iterable<{ class: 'wx' | 'wh' | 'wy'; row: number; levels: Buffer }>) {
      const length = row.class === 'wh' ? H * H : H;
      const values = decodeCodePoints(row.levels, length);
      mark(row.class, row.row, (k) => values[k] > rank, length);
    }
  }
  for (const run of runs) {
    if (keeps.get(run.run_key) === 'summaries') {
      // Its peaks are gone; its patterns active at the page's τ are kept.
      if (tauF32 === Math.fround(PAGE_TAU)) {
        for (const row of pagePatterns(db, run.run_key, (cls) => (cls === 'wh' ? H * H : H))) mark(row.cls, row.row, (k) => row.active[k] === 1, row.active.length);
        continue;
      }
      throw new InputError(
        `report: patterns never active at τ = ${tauF32} over this selection need pattern peaks, which run ${run.run_id} (kept as summaries) dropped: ` +
          `report whole jobs or single runs, or --never-tau ${PAGE_TAU} or one of the runs' thresholds`,
      );
    }
    for (const row of peaks.iterate(run.run_key) as Iterable<{ class: 'wx' | 'wh' | 'wy'; row: number; peaks: Buffer }>) {
      const values = floats(row.peaks);
      mark(row.class, row.row, (k) => values[k] > tauF32, values.length);
    }
  }
  const count = (values: Uint8Array) => values.reduce((sum, value) => sum + value, 0);
  return [
    { class: 'wx', active: count(marks.wx) },
    { class: 'wh', active: count(marks.wh) },
    { class: 'wy', active: count(marks.wy) },
  ];
}

export interface DepthRow {
  readonly d: number;
  readonly positions: number;
  readonly mean_mass: number;
}

/** Mean depth mass per offset d, over the positions where d exists (t ≥ d): exact sums, per cohort and per run. */
export function depthProfile(db: Db, runs: Runs): DepthRow[] {
  const plan = planSelection(db, runs);
  const cohort = prepared(db, `SELECT d, positions, mass_sum, mass_err FROM cohort_depth WHERE job_id = @job_id AND model_key = @model_key AND dmax = @dmax AND data_path = @data_path`);
  const stored = prepared(db, `SELECT d, positions, mass_sum, mass_err FROM run_depth WHERE run_key = ?`);
  const live = prepared(db, RUN_DEPTH_SELECT('run_key = ?'));
  function* rows(): IterableIterator<DepthSumRow> {
    for (const key of plan.cohorts) yield* cohort.iterate(key) as IterableIterator<DepthSumRow>;
    for (const run of plan.runs) yield* (run.status === 'done' ? stored : live).iterate(run.run_key) as IterableIterator<DepthSumRow>;
  }
  return depthOf(rows());
}

/** depthProfile from depth rows read elsewhere. */
export function depthOf(rows: Iterable<DepthSumRow>): DepthRow[] {
  const sums = new DepthSums();
  for (const row of rows) sums.add(row);
  return sums.entries().map(({ d, positions, mass }) => ({ d, positions, mean_mass: mass.value() / positions }));
}

export interface PositionCountRow {
  readonly run_id: string;
  readonly t: number;
  readonly y: number;
  readonly tau: number;
  readonly n_x: number;
  readonly n_h: number;
  readonly n_y: number;
}

/** Per-position counts, ordered by run (job order), t, then τ in the run's order. */
export function* positionCounts(db: Db, runIds: readonly string[]): IterableIterator<PositionCountRow> {
  // Run by run: the run's count blocks decoded into arrays, then
  // given out by t and τ. No sort over the selection; memory bounded by one run.
  const run = prepared(db, `SELECT run_key, positions FROM runs WHERE run_id = ?`);
  const taus = prepared(db, `SELECT tau FROM run_taus WHERE run_key = ? ORDER BY tau_index`).pluck();
  const targets = prepared(db, `SELECT t, y FROM position_rows WHERE run_key = ?`).raw();
  const blocks = prepared(db, `SELECT tau_index, start, count, n_x, n_h, n_y FROM count_blocks WHERE run_key = ?`);
  for (const runId of runIds) {
    const { run_key: runKey, positions } = run.get(runId) as { run_key: number; positions: number };
    const tauValues = taus.all(runKey) as number[];
    const T = tauValues.length;
    const y = new Int16Array(positions).fill(-1);
    for (const [t, target] of targets.all(runKey) as [number, number][]) y[t] = target;
    const n = new Uint32Array(positions * T * 3);
    for (const block of blocks.iterate(runKey) as Iterable<{ tau_index: number; start: number; count: number; n_x: Buffer; n_h: Buffer; n_y: Buffer }>) {
      const { tau_index: k, start, count } = block;
      const counts = decodeCountBlock(block, count);
      for (let p = 0; p < count; p++) n.set(counts.subarray(3 * p, 3 * p + 3), ((start + p) * T + k) * 3);
    }
    for (let t = 0; t < positions; t++) {
      if (y[t] < 0) continue; // not computed yet
      for (let k = 0; k < T; k++) {
        const at = (t * T + k) * 3;
        yield { run_id: runId, t, y: y[t], tau: tauValues[k], n_x: n[at], n_h: n[at + 1], n_y: n[at + 2] };
      }
    }
  }
}
