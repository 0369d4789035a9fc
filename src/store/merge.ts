import { SegmentError } from '../errors.js';
import type { Db } from './db.js';
import { segmentFrequencyCheck } from './frequency.js';
import { dropPositionRows } from './retention.js';
import { rollUp } from './rollups.js';
import { writeRunOverview } from './overview.js';
import { SCHEMA_VERSION } from './schema.js';

/** What one merge did, run by run. */
export interface MergeResult {
  /** Runs copied into the database (finished in the segment, not finished in the database). */
  readonly merged: readonly string[];
  /** Runs finished in both: the database's rows are kept, the segment's ignored. */
  readonly alreadyDone: readonly string[];
  /** Runs the segment holds but has not finished: ignored. */
  readonly unfinished: readonly string[];
  /** Positions copied. */
  readonly positions: number;
}

/** The per-run tables whose rows are copied, with their columns after `run_key` (parents before children). */
export const PER_RUN_TABLES: readonly (readonly [string, string])[] = [
  ['shards', 'start, count, seconds, committed_at, surprisal_sum, surprisal_err'],
  ['shard_depth', 'start, d, positions, mass_sum, mass_err'],
  ['position_rows', 't, y, surprisal_bits, mass_total, peak_d'],
  ['count_blocks', 'tau_index, start, count, n_x, n_h, n_y'],
  ['depth_rows', 'd, t, mass'],
  ['pattern_peak_rows', 'class, row, peaks'],
  ['run_tau_stats', 'tau_index, positions, sum_x, sum_h, sum_y, min_n, median_n, max_n, distinct_n, hist_steps, hist_large, hist_positions, active_x, active_h, active_y'],
  ['run_depth', 'd, positions, mass_sum, mass_err'],
  ['run_page_patterns', 'class, row, active'],
  ['run_frequency', 'tau_index, tau, tau_f32, positions'],
  ['pattern_frequency_rows', 'tau_index, class, row, positions'],
  ['frequency_in_progress', 'tau_index, start, class, row, positions'],
];

/**
 * Per-run tables that a merge does not copy: the run's own row and τ list are written from it, its job membership is the worker's,
 * and its `run_overview` row is written again from the rows copied (writeRunOverview), as the writer writes it.
 */
export const NOT_COPIED = ['runs', 'run_taus', 'job_runs', 'run_overview'];

/** Tables whose rows for a run are deleted before a finished copy replaces them (children first). */
const PARTIAL_TABLES = PER_RUN_TABLES.map(([table]) => table).reverse();

const SEGMENT = 'segment';

/** Rows of `depth_rows` a complete run with curves holds: every position t at every d ≤ min(t + burn-in, Dmax). */
export function depthRowCount(positions: number, dmax: number, burnIn = 0): number {
  // Positions t of a warm window reach as far as t + burnIn of a cold one.
  if (burnIn > 0) return depthRowCount(positions + burnIn, dmax) - depthRowCount(burnIn, dmax);
  const ramp = Math.min(positions, dmax + 1);
  return (ramp * (ramp + 1)) / 2 + (positions - ramp) * (dmax + 1);
}

/** A run of a segment as the completeness check sees it. */
interface RunShapeToCheck {
  readonly run_key: number;
  readonly positions: number;
  readonly dmax: number;
  readonly burn_in: number;
  readonly depth_curves: number;
  readonly taus: number;
  readonly hidden: number;
}

/**
 * The statements that check, in the attached segment, that a run it calls done
 * holds everything a finished run has (runWriter.ts): shards covering every
 * position once, a summary per τ over all positions, its depth profile, and,
 * unless the run is kept as summaries, every position's row, a count block per
 * shard and τ, its shards' depth sums and (with curves) every depth row. Returns
 * the first thing missing, or undefined.
 */
function completenessCheck(db: Db): (run: RunShapeToCheck, keepsPositions: boolean) => string | undefined {
  const s = {
    shards: db.prepare(
      `SELECT count(*) AS shards, coalesce(sum(count), 0) AS covered, coalesce(sum(start != expected), 0) AS misplaced,
              coalesce(sum(min(start + count - 1 + @burn_in, @dmax) + 1), 0) AS depthSums
       FROM (SELECT start, count, coalesce(lag(start + count) OVER (ORDER BY start), 0) AS expected FROM ${SEGMENT}.shards WHERE run_key = @run_key)`,
    ),
    taus: db.prepare(`SELECT count(*) AS n, coalesce(min(tau_index), 0) AS first, coalesce(max(tau_index), -1) AS last FROM ${SEGMENT}.run_taus WHERE run_key = ?`),
    summaries: db
      .prepare(`SELECT count(*) FROM ${SEGMENT}.run_tau_stats s JOIN ${SEGMENT}.run_taus t USING (run_key, tau_index) WHERE s.run_key = ? AND s.positions = ?`)
      .pluck(),
    depthProfile: db.prepare(`SELECT count(*) FROM ${SEGMENT}.run_depth WHERE run_key = ?`).pluck(),
    positions: db.prepare(`SELECT count(*) AS n, min(t) AS first, max(t) AS last FROM ${SEGMENT}.position_rows WHERE run_key = ?`),
    blocks: db.prepare(
      `SELECT count(*) AS blocks, coalesce(sum(s.count = b.count AND b.tau_index BETWEEN 0 AND ?), 0) AS matching
       FROM ${SEGMENT}.count_blocks b LEFT JOIN ${SEGMENT}.shards s USING (run_key, start) WHERE b.run_key = ?`,
    ),
    shardDepth: db.prepare(`SELECT count(*) FROM ${SEGMENT}.shard_depth WHERE run_key = ?`).pluck(),
    depthRows: db.prepare(`SELECT count(*) FROM ${SEGMENT}.depth_rows WHERE run_key = ?`).pluck(),
    frequency: segmentFrequencyCheck(db, SEGMENT),
  };
  return (run, keepsPositions) => {
    const { run_key: key, positions, dmax, burn_in: burnIn } = run;
    // A position t reaches min(t + burn-in, Dmax) offsets.
    const offsets = Math.min(positions - 1 + burnIn, dmax) + 1;
    const taus = s.taus.get(key) as { n: number; first: number; last: number };
    if (taus.n === 0 || taus.first !== 0 || taus.last !== taus.n - 1) return `its τ list is not indexed 0 to ${taus.n - 1}`;
    const shards = s.shards.get({ dmax, burn_in: burnIn, run_key: key }) as { shards: number; covered: number; misplaced: number; depthSums: number };
    if (shards.covered !== positions || shards.misplaced !== 0) {
      return `its shards cover ${shards.covered} of ${positions} positions${shards.misplaced > 0 ? ` with ${shards.misplaced} gaps or overlaps` : ''}`;
    }
    const summaries = s.summaries.get(key, positions) as number;
    if (summaries !== taus.n) return `it has summaries over all ${positions} positions for ${summaries} of its ${taus.n} τ`;
    const profile = s.depthProfile.get(key) as number;
    if (profile !== offsets) return `its depth profile has ${profile} of ${offsets} offsets`;
    const frequency = s.frequency(run, run.hidden);
    if (frequency !== undefined) return frequency;
    if (!keepsPositions) return undefined;
    const rows = s.positions.get(key) as { n: number; first: number | null; last: number | null };
    if (rows.n !== positions || rows.first !== 0 || rows.last !== positions - 1) return `position_rows has ${rows.n} of its ${positions} positions`;
    const blocks = s.blocks.get(taus.n - 1, key) as { blocks: number; matching: number };
    if (blocks.blocks !== blocks.matching || blocks.matching !== shards.shards * taus.n) {
      return `count_blocks has ${blocks.matching} of its ${shards.shards * taus.n} blocks (${shards.shards} shards × ${taus.n} τ)${blocks.blocks > blocks.matching ? `, and ${blocks.blocks - blocks.matching} that fit no shard` : ''}`;
    }
    const depthSums = s.shardDepth.get(key) as number;
    if (depthSums !== shards.depthSums) return `shard_depth has ${depthSums} of its ${shards.depthSums} rows`;
    if (run.depth_curves === 1) {
      const curves = s.depthRows.get(key) as number;
      const expected = depthRowCount(positions, dmax, burnIn);
      if (curves !== expected) return `depth_rows has ${curves} of its ${expected} rows`;
    }
    return undefined;
  };
}

/**
 * Merges a segment (a sparsetrace database written elsewhere, e.g. by a queue
 * worker) into `db`, in one IMMEDIATE transaction: every run that is `done` in
 * the segment and not `done` in `db` is copied with its rows, under `db`'s own
 * integer keys (model_key found by model_sha256, run_key by run_id or new). A run
 * already done in `db` is left as it is, so merging a segment twice is merging it
 * once; a run the segment has not finished is skipped.
 *
 * A run that `db` holds unfinished (recorded by a job, perhaps with some shards
 * committed by an interrupted `run`) keeps its run row and job membership, and
 * its partial rows are replaced by the segment's complete ones: results are a
 * function of the run's identity, so the segment's rows are those rows and the
 * rest. The caller must hold `db`'s writer lock, so no process is adding shards
 * to that run meanwhile. A run whose recorded shape differs (positions, τ list,
 * depth curves) is refused with a SegmentError, and nothing is merged.
 *
 * A run the segment calls done must be complete (completenessCheck: every
 * position and every τ, as the run's retention in `db` requires): one that is
 * not is refused with a SegmentError, and nothing is merged.
 *
 * `job_runs` is not copied: the segment's job is the worker's, not `db`'s.
 */
export function mergeSegment(db: Db, segmentPath: string): MergeResult {
  attachSegment(db, segmentPath);
  try {
    checkSegmentSchema(db, segmentPath);
    const s = mergeStatements(db);
    return db
      .transaction((): MergeResult => {
        const result: MergeTally = { merged: [], alreadyDone: [], unfinished: [], positions: 0 };
        for (const run of s.segmentRuns.all() as SegmentRun[]) mergeRun(db, s, segmentPath, run, result);
        rollUp(db);
        return result;
      })
      .immediate();
  } finally {
    db.prepare(`DETACH DATABASE ${SEGMENT}`).run();
  }
}

/** A run of the segment as the merge reads it. */
type SegmentRun = {
  run_key: number;
  run_id: string;
  status: string;
  positions: number;
  dmax: number;
  burn_in: number;
  depth_curves: number;
  keep: string;
  model_sha256: string;
  hidden: number;
  taus: number;
};

/** The database's own row of a run the segment holds. */
type LocalRun = { run_key: number; status: string; positions: number; depth_curves: number; keep: string; taus: number };

/** MergeResult as the runs are merged. */
type MergeTally = { merged: string[]; alreadyDone: string[]; unfinished: string[]; positions: number };

/** Attaches the segment as SEGMENT; one that cannot be opened is the segment's fault, named as such. */
function attachSegment(db: Db, segmentPath: string): void {
  try {
    db.prepare(`ATTACH DATABASE ? AS ${SEGMENT}`).run(segmentPath);
  } catch (error) {
    throw new SegmentError(`segment ${segmentPath}: cannot be opened: ${(error as Error).message}`);
  }
}

/** The attached segment has this schema version and every table a merge reads, or a SegmentError says what it lacks. */
function checkSegmentSchema(db: Db, segmentPath: string): void {
  let version: number;
  try {
    version = db.pragma(`${SEGMENT}.user_version`, { simple: true }) as number;
  } catch (error) {
    // Not a database, or its first page damaged: the segment's fault, named as such.
    throw new SegmentError(`segment ${segmentPath}: not a readable SQLite database: ${(error as Error).message}`);
  }
  if (version !== SCHEMA_VERSION) {
    throw new SegmentError(`segment ${segmentPath}: schema version ${version}, expected ${SCHEMA_VERSION} (written by another sparsetrace version?)`);
  }
  const present = new Set(db.prepare(`SELECT name FROM ${SEGMENT}.sqlite_schema WHERE type = 'table'`).pluck().all() as string[]);
  const absent = [...PER_RUN_TABLES.map(([table]) => table), ...NOT_COPIED, 'models'].filter((table) => !present.has(table));
  if (absent.length > 0) throw new SegmentError(`segment ${segmentPath}: no table ${absent.join(', ')} (written by another sparsetrace version?)`);
}

/** The merge's statements over `db` and the attached segment (prepared once per merge: the segment is attached anew each time). */
function mergeStatements(db: Db) {
  return {
    segmentRuns: db.prepare(
      `SELECT r.run_key, r.run_id, r.status, r.positions, r.dmax, r.burn_in, r.depth_curves, r.keep, m.model_sha256, m.hidden,
              (SELECT count(*) FROM ${SEGMENT}.run_taus t WHERE t.run_key = r.run_key) AS taus
       FROM ${SEGMENT}.runs r JOIN ${SEGMENT}.models m USING (model_key) ORDER BY r.run_key`,
    ),
    localRun: db.prepare(
      `SELECT r.run_key, r.status, r.positions, r.depth_curves, r.keep, (SELECT count(*) FROM main.run_taus t WHERE t.run_key = r.run_key) AS taus
       FROM main.runs r WHERE r.run_id = ?`,
    ),
    sameTaus: db
      .prepare(
        `SELECT count(*) FROM ${SEGMENT}.run_taus s JOIN main.run_taus m ON m.tau_index = s.tau_index AND m.tau_f32 = s.tau_f32
         WHERE s.run_key = ? AND m.run_key = ?`,
      )
      .pluck(),
    insertModel: db.prepare(
      `INSERT INTO main.models (model_sha256, path, hidden, significant_wx, significant_wh, significant_wy, significant_total)
       SELECT model_sha256, path, hidden, significant_wx, significant_wh, significant_wy, significant_total
       FROM ${SEGMENT}.models WHERE model_sha256 = ? ON CONFLICT (model_sha256) DO NOTHING`,
    ),
    modelKey: db.prepare(`SELECT model_key FROM main.models WHERE model_sha256 = ?`).pluck(),
    insertRun: db
      .prepare(
        `INSERT INTO main.runs (run_id, model_key, data_path, data_offset, data_length, data_sha256, dmax, gate, positions,
           depth_curves, keep, tau_list, status, tool_version, created_at, started_at, finished_at, compute_seconds, rule, burn_in)
         SELECT run_id, ?, data_path, data_offset, data_length, data_sha256, dmax, gate, positions,
           depth_curves, keep, tau_list, status, tool_version, created_at, started_at, finished_at, compute_seconds, rule, burn_in
         FROM ${SEGMENT}.runs WHERE run_key = ? RETURNING run_key`,
      )
      .pluck(),
    insertTaus: db.prepare(
      `INSERT INTO main.run_taus (run_key, tau_index, tau, tau_f32) SELECT ?, tau_index, tau, tau_f32 FROM ${SEGMENT}.run_taus WHERE run_key = ?`,
    ),
    completeRun: db.prepare(
      `UPDATE main.runs SET status = 'done', legacy_peak_factors = NULL,
         started_at = coalesce(main.runs.started_at, s.started_at), finished_at = s.finished_at, compute_seconds = s.compute_seconds
       FROM (SELECT started_at, finished_at, compute_seconds FROM ${SEGMENT}.runs WHERE run_key = ?) AS s
       WHERE main.runs.run_key = ?`,
    ),
    deletePartial: PARTIAL_TABLES.map((table) => db.prepare(`DELETE FROM main.${table} WHERE run_key = ?`)),
    copy: PER_RUN_TABLES.map(([table, columns]) =>
      db.prepare(`INSERT INTO main.${table} (run_key, ${columns}) SELECT ?, ${columns} FROM ${SEGMENT}.${table} WHERE run_key = ?`),
    ),
    keepsSummariesOnly: db.prepare(`SELECT keep = 'summaries' FROM main.runs WHERE run_key = ?`).pluck(),
    incomplete: completenessCheck(db),
  };
}

type MergeStatements = ReturnType<typeof mergeStatements>;

/** Merges one run of the segment (inside the merge's transaction), or counts it as already done or unfinished. */
function mergeRun(db: Db, s: MergeStatements, segmentPath: string, run: SegmentRun, result: MergeTally): void {
  if (run.status !== 'done') {
    result.unfinished.push(run.run_id);
    return;
  }
  const local = s.localRun.get(run.run_id) as LocalRun | undefined;
  if (local?.status === 'done') {
    result.alreadyDone.push(run.run_id);
    return;
  }
  // What the run must hold follows what the database keeps of it (a new run: what the segment says).
  const missing = s.incomplete(run, (local?.keep ?? run.keep) === 'full');
  if (missing !== undefined) throw new SegmentError(`segment ${segmentPath}: run ${run.run_id} is marked done but incomplete: ${missing}; not merged`);
  const runKey = local === undefined ? insertSegmentRun(s, run) : completeLocalRun(s, segmentPath, run, local);
  for (const statement of s.copy) statement.run(runKey, run.run_key);
  writeRunOverview(db, runKey);
  // A run the database keeps as summaries keeps only them (and, until its jobs' rollups have them, its peaks).
  if (s.keepsSummariesOnly.get(runKey) === 1) dropPositionRows(db, runKey);
  result.merged.push(run.run_id);
  result.positions += run.positions;
}

/** A run the database does not hold: its model (if new), run row and τ list from the segment; its new key. */
function insertSegmentRun(s: MergeStatements, run: SegmentRun): number {
  s.insertModel.run(run.model_sha256);
  const modelKey = s.modelKey.get(run.model_sha256) as number;
  const runKey = s.insertRun.get(modelKey, run.run_key) as number;
  s.insertTaus.run(runKey, run.run_key);
  return runKey;
}

/** A run the database holds unfinished: refused if recorded differently, else its partial rows go and it is marked done; its key. */
function completeLocalRun(s: MergeStatements, segmentPath: string, run: SegmentRun, local: LocalRun): number {
  const differs = recordedDifference(s, run, local);
  if (differs !== undefined) throw new SegmentError(`segment ${segmentPath}: run ${run.run_id}: ${differs}; not merged`);
  for (const statement of s.deletePartial) statement.run(local.run_key);
  s.completeRun.run(run.run_key, local.run_key);
  return local.run_key;
}

/** How the database's record of a run differs from the segment's (positions, depth curves, τ list), or undefined. */
function recordedDifference(s: MergeStatements, run: SegmentRun, local: LocalRun): string | undefined {
  if (local.positions !== run.positions) return `positions ${run.positions} here, ${local.positions} in the database`;
  if (local.depth_curves !== run.depth_curves) {
    return `depth curves ${run.depth_curves === 1 ? 'kept' : 'not kept'} here, ${local.depth_curves === 1 ? 'kept' : 'not kept'} in the database`;
  }
  if (local.taus !== run.taus || s.sameTaus.get(run.run_key, local.run_key) !== run.taus) return "its thresholds differ from the database's";
  return undefined;
}
