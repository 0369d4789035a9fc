import type { Statement } from 'better-sqlite3';
import { decodeCountBlock } from './countBlocks.js';
import type { Db } from './db.js';

import { RUN_DEPTH_SELECT, TAU_STATS_SELECT } from './summaries.js';

/**
 * Every statistic of the results page, as SQL over a selection of runs. A
 * selection is a JSON array of run ids bound to `?` and opened with json_each,
 * so one prepared statement serves any number of runs. Reports read the per-run
 * summaries of finished runs (a few rows per run) and compute the same
 * summaries from the per-position rows only for runs still in progress, so
 * their cost grows with the number of runs, not of positions.
 */
const SELECTED_KEYS = `(SELECT r.run_key FROM json_each(?) j JOIN runs r ON r.run_id = j.value)`;

const statements = new WeakMap<Db, Map<string, Statement>>();

/** A statement prepared once per connection and reused (better-sqlite3 statements are reusable). */
function prepared(db: Db, sql: string): Statement {
  let cache = statements.get(db);
  if (cache === undefined) {
    cache = new Map();
    statements.set(db, cache);
  }
  let statement = cache.get(sql);
  if (statement === undefined) {
    statement = db.prepare(sql);
    cache.set(sql, statement);
  }
  return statement;
}

/**
 * The selected runs' per-τ summaries: stored for finished runs, computed from
 * their rows for the others (`live`). `stats` leaves the sorted counts out, so
 * grouping never moves them; a median reads them by index, τ by τ.
 */
const SELECTION_STATS = `
  sel AS MATERIALIZED (SELECT r.run_key, r.status = 'done' AS done FROM json_each(?) j JOIN runs r ON r.run_id = j.value),
  live AS MATERIALIZED (
    SELECT rt.tau, s.* FROM (${TAU_STATS_SELECT('run_key IN (SELECT run_key FROM sel WHERE NOT done)')}) s JOIN run_taus rt USING (run_key, tau_index)
  ),
  stats AS (
    SELECT rt.tau, s.positions, s.sum_x, s.sum_h, s.sum_y, s.min_n, s.max_n
    FROM sel JOIN run_tau_stats s USING (run_key) JOIN run_taus rt USING (run_key, tau_index) WHERE sel.done
    UNION ALL
    SELECT tau, positions, sum_x, sum_h, sum_y, min_n, max_n FROM live
  )`;

/** The median of n at τ = g.tau over the selection, from the runs' sorted counts. */
const SELECTION_MEDIAN = `(
  SELECT sorted_median(sorted_n) FROM (
    -- CROSS JOIN keeps this order: the selection's runs, not every run at that τ.
    SELECT s.sorted_n FROM sel CROSS JOIN run_taus rt ON rt.run_key = sel.run_key AND rt.tau = g.tau
    JOIN run_tau_stats s ON s.run_key = rt.run_key AND s.tau_index = rt.tau_index
    WHERE sel.done
    UNION ALL
    SELECT sorted_n FROM live WHERE live.tau = g.tau))`;

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
  readonly positions_done: number;
  readonly status: 'pending' | 'running' | 'done';
  readonly compute_seconds: number;
  readonly started_at: string | null;
  readonly finished_at: string | null;
  readonly taus: string;
  readonly tool_version: string;
}

const RUN_COLUMNS = `
  r.run_id, m.model_sha256, m.path AS model_path, m.hidden, r.data_path, r.data_offset, r.data_length, r.data_sha256,
  r.dmax, r.positions, r.depth_curves, r.status, r.compute_seconds, r.started_at, r.finished_at, r.tool_version,
  (SELECT coalesce(sum(count), 0) FROM shards s WHERE s.run_key = r.run_key) AS positions_done,
  (SELECT group_concat(tau, ',') FROM (SELECT tau FROM run_taus rt WHERE rt.run_key = r.run_key ORDER BY tau_index)) AS taus`;

/** All runs, oldest first, or those of one job in job order. */
export function listRuns(db: Db, jobId?: number): RunRow[] {
  if (jobId === undefined) {
    return prepared(db, `SELECT ${RUN_COLUMNS} FROM runs r JOIN models m USING (model_key) ORDER BY r.run_key`).all() as RunRow[];
  }
  return prepared(db, `SELECT ${RUN_COLUMNS} FROM job_runs jr JOIN runs r USING (run_key) JOIN models m USING (model_key) WHERE jr.job_id = ? ORDER BY jr.run_order`)
    .all(jobId) as RunRow[];
}

export interface JobRow {
  readonly job_id: number;
  readonly name: string;
  readonly source: string | null;
  readonly spec_json: string;
  readonly created_at: string;
  readonly last_started_at: string | null;
  readonly runs: number;
  readonly runs_done: number;
}

export function listJobs(db: Db): JobRow[] {
  return prepared(
    db,
    `SELECT j.job_id, j.name, j.source, j.spec_json, j.created_at, j.last_started_at,
         count(jr.run_key) AS runs, coalesce(sum(r.status = 'done'), 0) AS runs_done
       FROM jobs j LEFT JOIN job_runs jr USING (job_id) LEFT JOIN runs r USING (run_key)
       GROUP BY j.job_id ORDER BY coalesce(j.last_started_at, j.created_at), j.job_id`,
  ).all() as JobRow[];
}

/** The job most recently started, if any. */
export function latestJob(db: Db): JobRow | undefined {
  const jobs = listJobs(db);
  return jobs[jobs.length - 1];
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
export function selectionModels(db: Db, runIds: readonly string[]): ModelRow[] {
  return prepared(db, `SELECT DISTINCT m.* FROM json_each(?) j JOIN runs r ON r.run_id = j.value JOIN models m USING (model_key) ORDER BY m.model_sha256`)
    .all(JSON.stringify(runIds)) as ModelRow[];
}

export interface SurprisalRow {
  readonly positions: number;
  readonly bpc: number | null;
}

/** Positions and bpc (mean surprisal, from the shards' exact sums) of a selection. */
export function surprisalSummary(db: Db, runIds: readonly string[]): SurprisalRow {
  return prepared(
    db,
    `SELECT coalesce(sum(count), 0) AS positions, exact_sum(surprisal_sum, surprisal_err) / sum(count) AS bpc
       FROM shards WHERE run_key IN ${SELECTED_KEYS}`,
  ).get(JSON.stringify(runIds)) as SurprisalRow;
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

/**
 * Per τ: the distribution of n = n_x + n_h + n_y over positions, and the class
 * means. The median (the element at index ⌊(count-1)/2⌋ of the ascending
 * counts) comes from the runs' sorted counts (sorted_median), not from the
 * per-position rows.
 */
export function sparsityByTau(db: Db, runIds: readonly string[]): SparsityRow[] {
  return prepared(
    db,
    `WITH ${SELECTION_STATS},
       by_tau AS (
         SELECT tau, sum(positions) AS positions, sum(sum_x) AS sum_x, sum(sum_h) AS sum_h, sum(sum_y) AS sum_y,
                min(min_n) AS min, max(max_n) AS max
         FROM stats GROUP BY tau
       )
       SELECT g.tau, g.positions, (g.sum_x + g.sum_h + g.sum_y) * 1.0 / g.positions AS mean, ${SELECTION_MEDIAN} AS median, g.min, g.max,
              g.sum_x * 1.0 / g.positions AS mean_wx, g.sum_h * 1.0 / g.positions AS mean_wh, g.sum_y * 1.0 / g.positions AS mean_wy
       FROM by_tau g ORDER BY g.tau`,
  ).all(JSON.stringify(runIds)) as SparsityRow[];
}

export interface ActivePatternsRow {
  readonly class: 'wx' | 'wh' | 'wy';
  readonly active: number;
}

/**
 * Patterns whose peak attribution exceeds τ (given as the float32 compared) at
 * some position of some selected run that is done: the elementwise maximum of
 * the runs' peak rows, counted (active_by_class). Patterns are identified across runs by (class,
 * src, dst), so the selection must share one model.
 */
export function activePatterns(db: Db, runIds: readonly string[], tauF32: number): ActivePatternsRow[] {
  return prepared(
    db,
    `SELECT key AS class, value AS active FROM json_each((
       SELECT active_by_class(pr.class, pr.row, pr.peaks, ?)
       FROM json_each(?) j JOIN runs r ON r.run_id = j.value JOIN pattern_peak_rows pr USING (run_key)
       WHERE r.status = 'done'))`,
  ).all(tauF32, JSON.stringify(runIds)) as ActivePatternsRow[];
}

export interface DepthRow {
  readonly d: number;
  readonly positions: number;
  readonly mean_mass: number;
}

/** Mean depth mass per offset d, over the positions where d exists (t ≥ d): exact sums, per run for finished runs. */
export function depthProfile(db: Db, runIds: readonly string[]): DepthRow[] {
  return prepared(
    db,
    `WITH sel AS MATERIALIZED (SELECT r.run_key, r.status = 'done' AS done FROM json_each(?) j JOIN runs r ON r.run_id = j.value),
     depth AS (
       SELECT rd.* FROM sel JOIN run_depth rd USING (run_key) WHERE sel.done
       UNION ALL
       ${RUN_DEPTH_SELECT('run_key IN (SELECT run_key FROM sel WHERE NOT done)')}
     )
     SELECT d, sum(positions) AS positions, exact_sum(mass_sum, mass_err) / sum(positions) AS mean_mass
     FROM depth GROUP BY d ORDER BY d`,
  ).all(JSON.stringify(runIds)) as DepthRow[];
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
  const blocks = prepared(db, `SELECT tau_index, start, count, counts FROM count_blocks WHERE run_key = ?`).raw();
  for (const runId of runIds) {
    const { run_key: runKey, positions } = run.get(runId) as { run_key: number; positions: number };
    const tauValues = taus.all(runKey) as number[];
    const T = tauValues.length;
    const y = new Int16Array(positions).fill(-1);
    for (const [t, target] of targets.all(runKey) as [number, number][]) y[t] = target;
    const n = new Uint32Array(positions * T * 3);
    for (const [k, start, count, blob] of blocks.all(runKey) as [number, number, number, Buffer][]) {
      const counts = decodeCountBlock(blob, count);
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

/** Positions per wall-clock second over the shards committed in the last minute (0 if none). */
export function recentRate(db: Db, runIds: readonly string[]): number {
  const recent = prepared(
    db,
    `SELECT sum(count) AS positions, (julianday('now') - julianday(min(committed_at))) * 86400 AS seconds
       FROM shards WHERE run_key IN ${SELECTED_KEYS} AND committed_at >= strftime('%Y-%m-%dT%H:%M:%fZ', 'now', '-60 seconds')`,
  ).get(JSON.stringify(runIds)) as { positions: number | null; seconds: number | null };
  if (!recent.positions || !recent.seconds) return 0;
  return recent.positions / Math.max(1, recent.seconds);
}
