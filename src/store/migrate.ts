import Database from 'better-sqlite3';
import { encodeCountBlock } from './countBlocks.js';
import { blobOf } from './functions.js';
import type { Db } from './db.js';
import { CountHistogram } from './histogram.js';
import { decodeCountBlockV3, encodeCountBlockV3, uint32s } from './legacy/countBlocksV3.js';
import { registerV3Functions } from './legacy/functionsV3.js';
import { COUNT_BLOCKS_TABLE_V3, SCHEMA_V3, TAU_STATS_SELECT_V3 } from './legacy/schemaV3.js';
import { activeByRank } from './levels.js';
import { CohortFrequency } from './cohortFrequency.js';
import { decodeCodePoints } from './codePoints.js';
import { encodeSteps } from './histogram.js';
import { IN_COHORT, type CohortKey } from './cohorts.js';
import { refreshStaleRollups, runLevels } from './rollups.js';
import { COHORT_TABLES_V6 } from './legacy/schemaV6.js';
import { COHORT_TABLES_V8, encodeHistogramV8, RUN_TAU_STATS_TABLE_V8 } from './legacy/schemaV8.js';
import {
  COHORT_FREQUENCY_TABLES,
  COHORT_TAU_STATS_TABLE,
  COUNT_BLOCKS_TABLE,
  FREQUENCY_TABLES,
  JOB_RUNS_INDEXES,
  ORDER_INDEXES,
  RUN_OVERVIEW_TABLE,
  RUN_PAGE_PATTERNS_TABLE,
  RUN_TAU_STATS_FIGURES_INDEX,
  RUN_TAU_STATS_TABLE,
  RUNS_BURN_IN_COLUMN,
  RUNS_RULE_COLUMN,
  SCHEMA,
  SCHEMA_VERSION,
  TAU_LIST_OF,
  VIEWS,
} from './schema.js';
import { writeAllRunOverviews } from './overview.js';
import { RUN_DEPTH_SELECT } from './summaries.js';
import { verifyWal } from './walGuard.js';

/** 0.1.0's tables, children before parents. */
const V1_TABLES = ['pattern_peaks', 'depth_mass', 'counts', 'positions', 'shards', 'job_runs', 'run_taus', 'runs', 'jobs', 'models', 'writer_lock'];

/**
 * Brings a database from its schema version to SCHEMA_VERSION in one
 * transaction: a new file gets the schema, a 0.1.0 file (version 1) has its rows
 * moved into the compact tables, a version 2 file has its per-position count
 * rows packed into count blocks (both give schema 3), and schema 3 becomes 4:
 * count blocks and summaries re-encoded so plain SQL reads them, the views made
 * plain SQL, schema 4 becomes 5: `runs.rule`, 'q1' for every earlier run,
 * schema 5 becomes 6: `runs.burn_in`, 0 (a cold window) for every earlier run,
 * schema 6 becomes 7: the activation frequency tables, empty (earlier runs
 * have no frequencies; they are not recomputed), schema 7 becomes 8:
 * cohorts per data file too, and an index of the runs' scalar summaries, and
 * schema 8 becomes 9: histograms of n as steps, cohorts' frequencies, a
 * summaries run's own frequency rows dropped, and schema 9 becomes 10:
 * `run_overview`, a row per finished run from its rows, and schema 10 becomes
 * 11: two indexes for reading selections in order. Stale rollups are made again last.
 * The caller holds the writer lock or knows the file is new. Foreign keys are
 * checked once at the end.
 */
export function upgradeSchema(db: Db): { from: number; to: number } {
  db.pragma('foreign_keys = OFF');
  try {
    return db.transaction(() => {
      // Read inside the write transaction: another process may have upgraded the file meanwhile.
      const from = db.pragma('user_version', { simple: true }) as number;
      if (from === SCHEMA_VERSION) return { from, to: from };
      if (from === 0) db.exec(SCHEMA);
      else if (from >= 1 && from <= 10) {
        if (from === 1) migrateFromV1(db);
        if (from === 2) migrateFromV2(db);
        if (from <= 3) migrateFromV3(db);
        if (from <= 4) migrateFromV4(db);
        if (from <= 5) migrateFromV5(db);
        if (from <= 6) migrateFromV6(db);
        if (from <= 7) migrateFromV7(db);
        if (from <= 8) migrateFromV8(db);
        if (from <= 9) migrateFromV9(db);
        migrateFromV10(db);
      } else throw new Error(`no migration from schema version ${from}`);
      // A 9 → 10 upgrade writes run_overview alone: its rows are the ones to check (checking the whole file reads
      // every table: 42 s of a 44 s upgrade of a 10⁵-run, 30 GB file, where writing the rows took 1.7 s).
      // A 10 → 11 upgrade adds indexes alone: no row to check.
      const problems = (from === 10 ? [] : db.pragma(from === 9 ? 'foreign_key_check(run_overview)' : 'foreign_key_check')) as unknown[];
      if (problems.length > 0) throw new Error(`the migrated database fails ${problems.length} foreign key checks`);
      db.pragma(`user_version = ${SCHEMA_VERSION}`);
      return { from, to: SCHEMA_VERSION };
    }).immediate();
  } finally {
    db.pragma('foreign_keys = ON');
  }
}

/**
 * Version 1 → 2. Every row is kept: runs keep their ids, per-position rows move
 * to integer keys and τ indices, 0.1.0's full depth curves stay (the runs are
 * marked depth_curves = 1) and give the shard sums and per-position columns,
 * pattern peaks become peak rows, finished runs get their summaries.
 */
function migrateFromV1(db: Db): void {
  for (const table of V1_TABLES) db.exec(`ALTER TABLE ${table} RENAME TO v1_${table}`);
  db.exec(SCHEMA_V3);
  registerV3Functions(db);
  db.exec(`
    INSERT INTO models (model_sha256, path, hidden, significant_wx, significant_wh, significant_wy, significant_total)
      SELECT model_sha256, path, hidden, significant_wx, significant_wh, significant_wy, significant_total FROM v1_models ORDER BY rowid;
    INSERT INTO runs (run_id, model_key, data_path, data_offset, data_length, data_sha256, dmax, gate, positions, depth_curves,
        status, tool_version, created_at, started_at, finished_at, compute_seconds, legacy_peak_factors)
      SELECT r.run_id, m.model_key, r.data_path, r.data_offset, r.data_length, r.data_sha256, r.dmax, r.gate, r.positions, 1,
        r.status, r.tool_version, r.created_at, r.started_at, r.finished_at, r.compute_seconds,
        CASE WHEN r.status = 'done' THEN NULL ELSE r.peak_factors END
      FROM v1_runs r JOIN models m USING (model_sha256) ORDER BY r.rowid;
    INSERT INTO run_taus (run_key, tau_index, tau, tau_f32)
      SELECT r.run_key, t.tau_index, t.tau, t.tau_f32 FROM v1_run_taus t JOIN runs r USING (run_id);
    INSERT INTO jobs SELECT job_id, name, job_sha256, source, spec_json, created_at, last_started_at FROM v1_jobs;
    INSERT INTO job_runs (job_id, run_key, run_order)
      SELECT jr.job_id, r.run_key, jr.run_order FROM v1_job_runs jr JOIN runs r USING (run_id);
    INSERT INTO depth_rows (run_key, d, t, mass)
      SELECT r.run_key, m.d, m.t, m.mass FROM v1_depth_mass m JOIN runs r USING (run_id);
    INSERT INTO position_rows (run_key, t, y, surprisal_bits, mass_total, peak_d)
      SELECT r.run_key, p.t, p.y, p.surprisal_bits,
        (SELECT exact_sum(m.mass) FROM depth_rows m WHERE m.run_key = r.run_key AND m.t = p.t),
        (SELECT m.d FROM depth_rows m WHERE m.run_key = r.run_key AND m.t = p.t AND m.d >= 1 ORDER BY m.mass DESC, m.d LIMIT 1)
      FROM v1_positions p JOIN runs r USING (run_id);
    INSERT INTO shards (run_key, start, count, seconds, committed_at, surprisal_sum, surprisal_err)
      SELECT r.run_key, s.start, s.count, s.seconds, s.committed_at, sum_hi, sum_lo
      FROM v1_shards s JOIN runs r USING (run_id)
      JOIN (SELECT r2.run_key AS key, s2.start AS shard_start, exact_sum(p.surprisal_bits) AS sum_hi, exact_sum_residual(p.surprisal_bits) AS sum_lo
            FROM v1_shards s2 JOIN runs r2 USING (run_id)
            JOIN position_rows p ON p.run_key = r2.run_key AND p.t >= s2.start AND p.t < s2.start + s2.count
            GROUP BY r2.run_key, s2.start) ON key = r.run_key AND shard_start = s.start;
    INSERT INTO shard_depth (run_key, start, d, positions, mass_sum, mass_err)
      SELECT s.run_key, s.start, m.d, count(*), exact_sum(m.mass), exact_sum_residual(m.mass)
      FROM shards s JOIN depth_rows m ON m.run_key = s.run_key AND m.t >= s.start AND m.t < s.start + s.count
      GROUP BY s.run_key, s.start, m.d;
    INSERT INTO writer_lock SELECT * FROM v1_writer_lock;
  `);
  registerPackCounts(db);
  db.exec(`
    INSERT INTO count_blocks (run_key, tau_index, start, count, counts)
      SELECT s.run_key, rt.tau_index, s.start, s.count, pack_counts(c.t - s.start, s.count, c.n_x, c.n_h, c.n_y)
      FROM runs r JOIN run_taus rt USING (run_key) JOIN shards s USING (run_key)
      JOIN v1_counts c ON c.run_id = r.run_id AND c.tau = rt.tau AND c.t >= s.start AND c.t < s.start + s.count
      GROUP BY s.run_key, rt.tau_index, s.start;
  `);
  migratePeaks(db);
  db.exec(`
    INSERT INTO run_tau_stats ${TAU_STATS_SELECT_V3(DONE_RUNS)};
    INSERT INTO run_depth ${RUN_DEPTH_SELECT(DONE_RUNS)};
  `);
  for (const table of V1_TABLES) db.exec(`DROP TABLE v1_${table}`);
}

/** Version 2 → 3: the per-position count rows of each shard and τ become one count block. */
function migrateFromV2(db: Db): void {
  registerPackCounts(db);
  db.exec(`
    DROP VIEW counts;
    ${COUNT_BLOCKS_TABLE_V3}
    INSERT INTO count_blocks (run_key, tau_index, start, count, counts)
      SELECT s.run_key, c.tau_index, s.start, s.count, pack_counts(c.t - s.start, s.count, c.n_x, c.n_h, c.n_y)
      FROM shards s JOIN count_rows c ON c.run_key = s.run_key AND c.t >= s.start AND c.t < s.start + s.count
      GROUP BY s.run_key, c.tau_index, s.start;
    DROP TABLE count_rows;
  `);
  db.exec(SCHEMA_V3.slice(SCHEMA_V3.indexOf('CREATE VIEW counts AS'), SCHEMA_V3.indexOf('CREATE VIEW depth_mass AS')));
}

/**
 * Version 3 → 4: count blocks from one uint16/uint32 BLOB to a code point array
 * per class, summaries from every position's sorted n to its histogram (and
 * median), `runs.keep`, and the views as plain SQL. Every count and figure is
 * the same; a test compares them.
 */
function migrateFromV3(db: Db): void {
  for (const view of db.prepare(`SELECT name FROM sqlite_schema WHERE type = 'view'`).pluck().all() as string[]) db.exec(`DROP VIEW "${view}"`);
  // One v3 block decoded once for its three columns.
  let last: { blob: Buffer; counts: ReturnType<typeof encodeCountBlock> } | undefined;
  db.function('v4_count_column', { deterministic: true }, (count: unknown, blob: unknown, cls: unknown) => {
    if (!Buffer.isBuffer(blob) || typeof count !== 'number') throw new Error('a count block without counts');
    if (last === undefined || !last.blob.equals(blob)) last = { blob, counts: encodeCountBlock(decodeCountBlockV3(blob, count)) };
    return last.counts[cls as 'n_x' | 'n_h' | 'n_y'];
  });
  db.exec(`
    ALTER TABLE runs ADD COLUMN keep TEXT NOT NULL DEFAULT 'full' CHECK (keep IN ('full', 'summaries'));
    ALTER TABLE runs ADD COLUMN tau_list TEXT NOT NULL DEFAULT '';
    UPDATE runs SET tau_list = coalesce(${TAU_LIST_OF('runs.run_key')}, '');
    ALTER TABLE count_blocks RENAME TO v3_count_blocks;
    ${COUNT_BLOCKS_TABLE}
    INSERT INTO count_blocks (run_key, tau_index, start, count, n_x, n_h, n_y)
      SELECT run_key, tau_index, start, count, v4_count_column(count, counts, 'n_x'), v4_count_column(count, counts, 'n_h'),
             v4_count_column(count, counts, 'n_y')
      FROM v3_count_blocks;
    DROP TABLE v3_count_blocks;
    ALTER TABLE run_tau_stats RENAME TO v3_run_tau_stats;
    ${RUN_TAU_STATS_TABLE_V8}
    ${RUN_PAGE_PATTERNS_TABLE}
    ${COHORT_TABLES_V6}
    ALTER TABLE job_runs ADD COLUMN rolled_up INTEGER NOT NULL DEFAULT 0 CHECK (rolled_up IN (0, 1));
    ${JOB_RUNS_INDEXES}
  `);
  const insert = db.prepare(
    `INSERT INTO run_tau_stats (run_key, tau_index, positions, sum_x, sum_h, sum_y, min_n, median_n, max_n, distinct_n, hist_n, hist_positions,
       active_x, active_h, active_y)
     VALUES (@run_key, @tau_index, @positions, @sum_x, @sum_h, @sum_y, @min_n, @median_n, @max_n, @distinct_n, @hist_n, @hist_positions,
       @active_x, @active_h, @active_y)`,
  );
  const taus = db.prepare(`SELECT tau_index, tau_f32 FROM run_taus WHERE run_key = ?`);
  type V3Stats = { run_key: number; tau_index: number; positions: number; sum_x: number; sum_h: number; sum_y: number; min_n: number; max_n: number; sorted_n: Buffer };
  const statsOf = db.prepare(`SELECT * FROM v3_run_tau_stats WHERE run_key = ?`);
  for (const runKey of db.prepare(`SELECT DISTINCT run_key FROM v3_run_tau_stats`).pluck().all() as number[]) {
    // Patterns active somewhere in the run at each τ, from its peaks (levels.ts).
    const { levels, thresholds } = runLevels(db, runKey);
    const active = activeByRank(levels, thresholds.length);
    const rankOf = new Map((taus.all(runKey) as { tau_index: number; tau_f32: number }[]).map((row) => [row.tau_index, thresholds.indexOf(row.tau_f32)]));
    for (const row of statsOf.all(runKey) as V3Stats[]) {
      const histogram = new CountHistogram();
      for (const n of uint32s(row.sorted_n)) histogram.add(n);
      const { sorted_n: _sorted, ...sums } = row;
      const rank = rankOf.get(row.tau_index) as number;
      insert.run({ ...sums, median_n: histogram.median(), ...encodeHistogramV8(histogram), active_x: active.wx[rank], active_h: active.wh[rank], active_y: active.wy[rank] });
    }
  }
  // The rollups are built and the views made by the last steps, which every migration ends with.
  db.exec(`DROP TABLE v3_run_tau_stats;`);
}

/**
 * Version 4 → 5: `runs.rule`. Every run before it computed the spec's rule, 'q1'.
 * ALTER TABLE … ADD COLUMN with a constant default only rewrites the table's
 * definition, not its rows: instant on any size of store.
 */
function migrateFromV4(db: Db): void {
  db.exec(`ALTER TABLE runs ADD COLUMN ${RUNS_RULE_COLUMN}`);
}

/**
 * Version 5 → 6: `runs.burn_in`. Every run before it started its window cold, from
 * h = 0 (burn-in 0). As for 4 → 5, only the table's definition changes: instant.
 */
function migrateFromV5(db: Db): void {
  db.exec(`ALTER TABLE runs ADD COLUMN ${RUNS_BURN_IN_COLUMN}`);
}

/** Schema 7's rollup tables (as schema 6 made them), children before their parent. */
const V6_COHORT_TABLES = ['cohort_pattern_levels', 'cohort_depth', 'cohort_tau_stats', 'job_cohorts'] as const;

/**
 * Version 7 → 8: cohorts keyed by data file too (`data_path`), so that a report
 * by data file reads rollups, and `run_tau_stats_figures`, an index of
 * run_tau_stats' scalar columns (a report of one-run groups reads it, not the
 * histograms beside them). A schema 6 cohort whose finished runs read one data
 * file keeps its rows, now that file's; one of several files is made again per
 * file from its runs (refreshStaleRollups), unless a run of it dropped its
 * peaks (kept as summaries): its levels exist only for all its runs together,
 * so it stays one cohort of every file (`data_path` '', rollups.ts).
 */
function migrateFromV7(db: Db): void {
  db.exec(RUN_TAU_STATS_FIGURES_INDEX);
  for (const table of V6_COHORT_TABLES) db.exec(`ALTER TABLE ${table} RENAME TO v6_${table}`);
  db.exec(`
    ${COHORT_TABLES_V8}
    CREATE TEMP TABLE v6_cohort_data AS
      SELECT c.job_id, c.model_key, c.dmax, count(DISTINCT r.data_path) AS files, min(r.data_path) AS data_path,
             max(r.keep = 'summaries' AND NOT EXISTS (SELECT 1 FROM pattern_peak_rows p WHERE p.run_key = r.run_key)) AS peaks_dropped
      FROM v6_job_cohorts c JOIN job_runs jr ON jr.job_id = c.job_id
        JOIN runs r ON r.run_key = jr.run_key AND r.model_key = c.model_key AND r.dmax = c.dmax AND r.status = 'done'
      GROUP BY c.job_id, c.model_key, c.dmax;
    DELETE FROM temp.v6_cohort_data WHERE files > 1 AND NOT peaks_dropped;
    UPDATE temp.v6_cohort_data SET data_path = '' WHERE files > 1;
    INSERT INTO job_cohorts (job_id, model_key, dmax, data_path, runs, positions, surprisal_sum, surprisal_err, peaks_complete)
      SELECT c.job_id, c.model_key, c.dmax, k.data_path, c.runs, c.positions, c.surprisal_sum, c.surprisal_err, c.peaks_complete
      FROM v6_job_cohorts c JOIN temp.v6_cohort_data k USING (job_id, model_key, dmax);
    INSERT INTO cohort_tau_stats (job_id, model_key, dmax, data_path, tau_index, tau, positions, sum_x, sum_h, sum_y, min_n, median_n, max_n,
        distinct_n, hist_n, hist_positions, active_x, active_h, active_y)
      SELECT c.job_id, c.model_key, c.dmax, k.data_path, c.tau_index, c.tau, c.positions, c.sum_x, c.sum_h, c.sum_y, c.min_n, c.median_n, c.max_n,
        c.distinct_n, c.hist_n, c.hist_positions, c.active_x, c.active_h, c.active_y
      FROM v6_cohort_tau_stats c JOIN temp.v6_cohort_data k USING (job_id, model_key, dmax);
    INSERT INTO cohort_depth (job_id, model_key, dmax, data_path, d, positions, mass_sum, mass_err)
      SELECT c.job_id, c.model_key, c.dmax, k.data_path, c.d, c.positions, c.mass_sum, c.mass_err
      FROM v6_cohort_depth c JOIN temp.v6_cohort_data k USING (job_id, model_key, dmax);
    INSERT INTO cohort_pattern_levels (job_id, model_key, dmax, data_path, class, row, levels)
      SELECT c.job_id, c.model_key, c.dmax, k.data_path, c.class, c.row, c.levels
      FROM v6_cohort_pattern_levels c JOIN temp.v6_cohort_data k USING (job_id, model_key, dmax);
    DROP TABLE temp.v6_cohort_data;
  `);
  for (const table of V6_COHORT_TABLES) db.exec(`DROP TABLE v6_${table}`);
}

/**
 * Version 8 → 9: the histograms of n (run_tau_stats, cohort_tau_stats) as steps
 * (histogram.ts: about a byte per distinct n instead of up to three, so a run's
 * row at one τ takes half a page, not a page), the views made again
 * (run_histograms reads the steps), the cohorts' activation frequencies from
 * their runs (cohort_frequency, cohort_frequency_rows), stale rollups made
 * again, and then the frequency rows of the runs kept as summaries that dropped
 * their peaks (their jobs' rollups hold them): what a summaries run drops from now on.
 */
function migrateFromV8(db: Db): void {
  dropViews(db);
  registerHistogramSteps(db);
  db.exec(`
    DROP INDEX IF EXISTS run_tau_stats_figures;
    ALTER TABLE run_tau_stats RENAME TO v8_run_tau_stats;
    ${RUN_TAU_STATS_TABLE}
    INSERT INTO run_tau_stats (run_key, tau_index, ${TAU_STATS_COLUMNS_V9})
      SELECT run_key, tau_index, ${TAU_STATS_SELECT_V9} FROM v8_run_tau_stats ORDER BY rowid;
    DROP TABLE v8_run_tau_stats;
    ${RUN_TAU_STATS_FIGURES_INDEX}
    ALTER TABLE cohort_tau_stats RENAME TO v8_cohort_tau_stats;
    ${COHORT_TAU_STATS_TABLE}
    INSERT INTO cohort_tau_stats (job_id, model_key, dmax, data_path, tau_index, tau, ${TAU_STATS_COLUMNS_V9})
      SELECT job_id, model_key, dmax, data_path, tau_index, tau, ${TAU_STATS_SELECT_V9} FROM v8_cohort_tau_stats ORDER BY rowid;
    DROP TABLE v8_cohort_tau_stats;
    ${COHORT_FREQUENCY_TABLES}
  `);
  addCohortFrequencies(db);
  refreshStaleRollups(db);
  db.exec(`
    DELETE FROM pattern_frequency_rows WHERE run_key IN (
      SELECT r.run_key FROM runs r WHERE r.keep = 'summaries' AND r.status = 'done'
        AND NOT EXISTS (SELECT 1 FROM pattern_peak_rows p WHERE p.run_key = r.run_key));
    ${VIEWS}
  `);
}

/**
 * Version 9 → 10: `run_overview`, each finished run's row written from its
 * shards, τ and summaries (writeRunOverview, as the writer writes it): one
 * pass over the runs, three seeks each; no other table changes.
 */
function migrateFromV9(db: Db): void {
  db.exec(RUN_OVERVIEW_TABLE);
  writeAllRunOverviews(db);
}

/** Version 10 → 11: two indexes (ORDER_INDEXES); no row changes. */
function migrateFromV10(db: Db): void {
  db.exec(ORDER_INDEXES);
}

const TAU_STATS_COLUMNS_V9 = `positions, sum_x, sum_h, sum_y, min_n, median_n, max_n, distinct_n, hist_steps, hist_large, hist_positions, active_x, active_h, active_y`;
const TAU_STATS_SELECT_V9 = `positions, sum_x, sum_h, sum_y, min_n, median_n, max_n, distinct_n,
  v9_histogram_steps(distinct_n, hist_n, 'steps'), v9_histogram_steps(distinct_n, hist_n, 'large'), hist_positions, active_x, active_h, active_y`;

/** `v9_histogram_steps(distinct_n, hist_n, part)`: a schema 8 histogram's values as hist_steps ('steps') or hist_large ('large'). */
function registerHistogramSteps(db: Db): void {
  // One histogram decoded once for its two columns.
  let last: { blob: Buffer; steps: ReturnType<typeof encodeSteps> } | undefined;
  db.function('v9_histogram_steps', { deterministic: true }, (distinct: unknown, blob: unknown, part: unknown) => {
    if (!Buffer.isBuffer(blob) || typeof distinct !== 'number') throw new Error('a histogram without values');
    if (last === undefined || !last.blob.equals(blob)) last = { blob, steps: encodeSteps(decodeCodePoints(blob, distinct)) };
    return part === 'steps' ? last.steps.hist_steps : last.steps.hist_large;
  });
}

/** Every cohort's activation frequencies, from the runs it holds (those its job marked rolled up), before any run's rows are dropped. */
function addCohortFrequencies(db: Db): void {
  const cohorts = db.prepare(`SELECT c.job_id, c.model_key, c.dmax, c.data_path, m.hidden FROM job_cohorts c JOIN models m USING (model_key)`).all() as (CohortKey & {
    hidden: number;
  })[];
  const members = db
    .prepare(`SELECT r.run_key FROM job_runs jr JOIN runs r USING (run_key) WHERE ${IN_COHORT} AND r.status = 'done' AND jr.rolled_up = 1 ORDER BY r.run_key`)
    .pluck();
  for (const { hidden, ...key } of cohorts) {
    const frequency = new CohortFrequency(db, hidden);
    for (const runKey of members.all(key) as number[]) frequency.addRun(runKey);
    frequency.write(key);
  }
}

/** Drops every view (the migrations that change them make them all again). */
function dropViews(db: Db): void {
  for (const view of db.prepare(`SELECT name FROM sqlite_schema WHERE type = 'view'`).pluck().all() as string[]) db.exec(`DROP VIEW "${view}"`);
}

/**
 * Version 6 → 7: the activation frequency tables, empty (the step from 8 makes
 * the views again, pattern_frequency with them). Earlier runs have no frequencies (a run resumed later
 * does not get them either: its first positions were not counted).
 */
function migrateFromV6(db: Db): void {
  dropViews(db);
  db.exec(FREQUENCY_TABLES);
}

/**
 * `pack_counts(offset, count, n_x, n_h, n_y)`, aggregate: the count block
 * (countBlocks.ts) of a shard of `count` positions from its rows, given with
 * their offsets in the shard. Only migrations need it.
 */
function registerPackCounts(db: Db): void {
  db.aggregate('pack_counts', {
    start: (): Uint32Array | null => null,
    step: (block: Uint32Array | null, offset?: unknown, count?: unknown, nx?: unknown, nh?: unknown, ny?: unknown) => {
      const values = block ?? new Uint32Array(3 * Number(count));
      values.set([Number(nx), Number(nh), Number(ny)], 3 * Number(offset));
      return values;
    },
    result: (block: Uint32Array | null) => (block === null ? null : encodeCountBlockV3(block)),
  });
}

/** 0.1.0's pattern_peaks rows, (class, src, dst, peak), as peak rows (see pattern_peak_rows). */
function migratePeaks(db: Db): void {
  const entries = db
    .prepare(
      `SELECT r.run_key, m.hidden, pp.class,
              CASE pp.class WHEN 'wx' THEN pp.src WHEN 'wy' THEN pp.dst ELSE 0 END AS row,
              CASE pp.class WHEN 'wx' THEN pp.dst WHEN 'wy' THEN pp.src ELSE pp.dst * m.hidden + pp.src END AS k, pp.peak
       FROM v1_pattern_peaks pp JOIN runs r USING (run_id) JOIN models m USING (model_key)`,
    )
    .all() as { run_key: number; hidden: number; class: string; row: number; k: number; peak: number }[];
  const rows = new Map<string, { runKey: number; cls: string; row: number; peaks: Float32Array }>();
  for (const entry of entries) {
    const key = `${entry.run_key}:${entry.class}:${entry.row}`;
    let row = rows.get(key);
    if (row === undefined) {
      row = { runKey: entry.run_key, cls: entry.class, row: entry.row, peaks: new Float32Array(entry.class === 'wh' ? entry.hidden ** 2 : entry.hidden) };
      rows.set(key, row);
    }
    row.peaks[entry.k] = entry.peak;
  }
  const insert = db.prepare(`INSERT INTO pattern_peak_rows (run_key, class, row, peaks) VALUES (?, ?, ?, ?)`);
  for (const row of rows.values()) insert.run(row.runKey, row.cls, row.row, blobOf(row.peaks));
}

const DONE_RUNS = `run_key IN (SELECT run_key FROM runs WHERE status = 'done')`;

/** The schema version of a database file, read without changing it. */
export function schemaVersionOf(path: string): number {
  verifyWal(path);
  const db = new Database(path, { readonly: true, fileMustExist: true });
  try {
    return db.pragma('user_version', { simple: true }) as number;
  } finally {
    db.close();
  }
}
