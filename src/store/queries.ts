import type { Db } from './open.js';

/**
 * Every statistic of the results page, as SQL over a selection of runs. A
 * selection is a JSON array of run ids bound to `?` and opened with json_each,
 * so one prepared statement serves any number of runs.
 */
const SELECTED = `(SELECT value FROM json_each(?))`;

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
  readonly positions_done: number;
  readonly status: 'pending' | 'running' | 'done';
  readonly compute_seconds: number;
  readonly started_at: string | null;
  readonly finished_at: string | null;
  readonly taus: string;
  readonly tool_version: string;
}

const RUN_COLUMNS = `
  r.run_id, r.model_sha256, m.path AS model_path, m.hidden, r.data_path, r.data_offset, r.data_length, r.data_sha256,
  r.dmax, r.positions, r.status, r.compute_seconds, r.started_at, r.finished_at, r.tool_version,
  (SELECT coalesce(sum(count), 0) FROM shards s WHERE s.run_id = r.run_id) AS positions_done,
  (SELECT group_concat(tau, ',') FROM (SELECT tau FROM run_taus rt WHERE rt.run_id = r.run_id ORDER BY tau_index)) AS taus`;

/** All runs, oldest first, or those of one job in job order. */
export function listRuns(db: Db, jobId?: number): RunRow[] {
  if (jobId === undefined) {
    return db.prepare(`SELECT ${RUN_COLUMNS} FROM runs r JOIN models m USING (model_sha256) ORDER BY r.created_at, r.rowid`).all() as RunRow[];
  }
  return db
    .prepare(`SELECT ${RUN_COLUMNS} FROM job_runs jr JOIN runs r USING (run_id) JOIN models m USING (model_sha256) WHERE jr.job_id = ? ORDER BY jr.run_order`)
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
  return db
    .prepare(
      `SELECT j.job_id, j.name, j.source, j.spec_json, j.created_at, j.last_started_at,
         count(jr.run_id) AS runs, coalesce(sum(r.status = 'done'), 0) AS runs_done
       FROM jobs j LEFT JOIN job_runs jr USING (job_id) LEFT JOIN runs r USING (run_id)
       GROUP BY j.job_id ORDER BY coalesce(j.last_started_at, j.created_at), j.job_id`,
    )
    .all() as JobRow[];
}

/** The job most recently started, if any. */
export function latestJob(db: Db): JobRow | undefined {
  const jobs = listJobs(db);
  return jobs[jobs.length - 1];
}

export interface ModelRow {
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
  return db
    .prepare(`SELECT DISTINCT m.* FROM runs r JOIN models m USING (model_sha256) WHERE r.run_id IN ${SELECTED} ORDER BY m.model_sha256`)
    .all(JSON.stringify(runIds)) as ModelRow[];
}

export interface SurprisalRow {
  readonly positions: number;
  readonly bpc: number | null;
}

export function surprisalSummary(db: Db, runIds: readonly string[]): SurprisalRow {
  return db
    .prepare(`SELECT count(*) AS positions, avg(surprisal_bits) AS bpc FROM positions WHERE run_id IN ${SELECTED}`)
    .get(JSON.stringify(runIds)) as SurprisalRow;
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

/** Per τ: the distribution of n = n_x + n_h + n_y over positions, and the class means. */
export function sparsityByTau(db: Db, runIds: readonly string[]): SparsityRow[] {
  return db
    .prepare(
      `WITH selected AS (
         SELECT tau, n_x, n_h, n_y, n_x + n_h + n_y AS n FROM counts WHERE run_id IN ${SELECTED}
       ),
       ranked AS (
         SELECT tau, n, row_number() OVER (PARTITION BY tau ORDER BY n) - 1 AS rank,
                count(*) OVER (PARTITION BY tau) AS total
         FROM selected
       ),
       medians AS (SELECT tau, n AS median FROM ranked WHERE rank = (total - 1) / 2)
       SELECT s.tau, count(*) AS positions, avg(s.n) AS mean, md.median, min(s.n) AS min, max(s.n) AS max,
              avg(s.n_x) AS mean_wx, avg(s.n_h) AS mean_wh, avg(s.n_y) AS mean_wy
       FROM selected s JOIN medians md USING (tau)
       GROUP BY s.tau ORDER BY s.tau`,
    )
    .all(JSON.stringify(runIds)) as SparsityRow[];
}

export interface ActivePatternsRow {
  readonly class: 'wx' | 'wh' | 'wy';
  readonly active: number;
}

/**
 * Patterns whose peak attribution exceeds τ (given as the float32 compared) at
 * some position of some selected run that is done. Patterns are identified
 * across runs by (class, src, dst), so the selection must share one model.
 */
export function activePatterns(db: Db, runIds: readonly string[], tauF32: number): ActivePatternsRow[] {
  return db
    .prepare(
      `SELECT class, count(*) AS active FROM (
         SELECT class, src, dst FROM pattern_peaks
         WHERE run_id IN ${SELECTED} AND peak > ?
         GROUP BY class, src, dst
       ) GROUP BY class`,
    )
    .all(JSON.stringify(runIds), tauF32) as ActivePatternsRow[];
}

export interface DepthRow {
  readonly d: number;
  readonly positions: number;
  readonly mean_mass: number;
}

/** Mean depth mass per offset d, over the positions where d exists (t ≥ d). */
export function depthProfile(db: Db, runIds: readonly string[]): DepthRow[] {
  return db
    .prepare(`SELECT d, count(*) AS positions, avg(mass) AS mean_mass FROM depth_mass WHERE run_id IN ${SELECTED} GROUP BY d ORDER BY d`)
    .all(JSON.stringify(runIds)) as DepthRow[];
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
export function positionCounts(db: Db, runIds: readonly string[]): IterableIterator<PositionCountRow> {
  return db
    .prepare(
      `SELECT c.run_id, c.t, p.y, c.tau, c.n_x, c.n_h, c.n_y
       FROM json_each(?) sel
       JOIN counts c ON c.run_id = sel.value
       JOIN positions p ON p.run_id = c.run_id AND p.t = c.t
       JOIN run_taus rt ON rt.run_id = c.run_id AND rt.tau = c.tau
       ORDER BY sel.key, c.t, rt.tau_index`,
    )
    .iterate(JSON.stringify(runIds)) as IterableIterator<PositionCountRow>;
}

/** Any statement a user types: rows as objects, with column names in order. */
export function adHocQuery(db: Db, sql: string): { columns: string[]; rows: unknown[][] } {
  const statement = db.prepare(sql);
  if (!statement.reader) {
    statement.run();
    return { columns: [], rows: [] };
  }
  const columns = statement.columns().map((column) => column.name);
  const rows = statement.raw(true).all() as unknown[][];
  return { columns, rows };
}

/** Positions per wall-clock second over the shards committed in the last minute (0 if none). */
export function recentRate(db: Db, runIds: readonly string[]): number {
  const recent = db
    .prepare(
      `SELECT sum(count) AS positions, (julianday('now') - julianday(min(committed_at))) * 86400 AS seconds
       FROM shards WHERE run_id IN ${SELECTED} AND committed_at >= strftime('%Y-%m-%dT%H:%M:%fZ', 'now', '-60 seconds')`,
    )
    .get(JSON.stringify(runIds)) as { positions: number | null; seconds: number | null };
  if (!recent.positions || !recent.seconds) return 0;
  return recent.positions / Math.max(1, recent.seconds);
}
