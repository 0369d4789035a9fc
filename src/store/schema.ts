import { LARGE_STEP } from './histogram.js';
import { codePointSql, float32Sql, sequenceSql } from './plainSql.js';

/**
 * The store's schema. `PRAGMA user_version` is the schema version: 0 is a new
 * file, 1 the schema of sparsetrace 0.1.0, 2 the first compact one (one
 * `count_rows` row per position and τ), 3 count blocks as uint16 BLOBs read
 * through our SQL functions, 4 code point arrays and plain-SQL views, 5
 * `runs.rule`, 6 `runs.burn_in`, 7 activation frequencies (`run_frequency`,
 * `pattern_frequency_rows`), 8 rollups per data file too, and an index of the
 * runs' scalar summaries, 9 histograms of n as steps, cohort frequencies, a
 * summaries run's own frequencies dropped, 10 this one (`run_overview`, a row of
 * overview figures per finished run); migrate.ts upgrades in place. Users
 * read it through docs/schema.md; the views keep 0.1.0's column names
 * (`run_id`, `tau`) over the compact tables.
 *
 * Every view is plain SQL: the BLOBs (count blocks, histograms, peaks) are laid
 * out so that SQLite's built-in functions unpack them (plainSql.ts), so any
 * SQLite client reads every documented view.
 *
 * Sizes and the writer's speed are what the layout is for: per position one
 * `position_rows` row, per shard and τ one `count_blocks` row holding the
 * shard's counts as code point arrays (codePoints.ts: one byte for a count
 * below 127), with integer keys, τ by index, WITHOUT ROWID. Depth masses are
 * kept per shard and offset (`shard_depth`), per position only as a total and a
 * peak offset, unless the run asked for full curves (`depth_rows`). Pattern
 * peaks are float32 BLOBs per (run, class, row) that has a non-zero peak. When a
 * run finishes, the writer stores its per-τ summaries (`run_tau_stats`, with the
 * histogram of n), so reports read a few rows per run instead of every
 * position; a run kept as `summaries` then drops its per-position rows.
 */
export const SCHEMA_VERSION = 11;

/**
 * `run_overview` (schema 10): per finished run, in one row, every figure a
 * text or Markdown overview prints of a group that is that run alone: its
 * positions, the exact sum of its surprisals, and per τ the τ, its float32,
 * the positions, the sum of n and the median of n. Written in the transaction
 * that finishes the run (runWriter.ts), when a segment's run is merged
 * (merge.ts) and by the migration from schema 9, always from the run's own
 * rows (`shards`, `run_taus`, `run_tau_stats`), so it holds nothing they do
 * not: a report of 10⁵ one-run groups (`--by window`) reads one row a run, in
 * run_key order, instead of seeking three B-trees and building JSON per run.
 */
export const RUN_OVERVIEW_TABLE = `
  -- Written when a run finishes (and by the migration from schema 9), from its rows in
  -- shards, run_taus and run_tau_stats: positions (the shards' counts), surprisal_bits
  -- (the exact sum of the shards' split surprisal sums, rounded once; bpc is it ÷ positions),
  -- taus (how many τ) and figures: per τ in tau_index order five little-endian float64,
  -- tau (as given), tau_f32, positions, n_sum (sum_x + sum_h + sum_y), median_n.
  -- A run whose τ rows are not numbered 0 … taus - 1, each with its summaries, has no row.
  CREATE TABLE run_overview (
    run_key        INTEGER PRIMARY KEY REFERENCES runs (run_key),
    positions      INTEGER NOT NULL,
    surprisal_bits REAL NOT NULL,
    taus           INTEGER NOT NULL,
    figures        BLOB NOT NULL CHECK (length(figures) = 40 * taus)
  );
`;

/**
 * `runs.rule`: the run's attribution rule, a name of RULES (src/engine/computation.ts).
 * Its own constant: the migration from schema 4 adds it (at the end of the table, where
 * a new file has it too). No CHECK: a new rule needs no migration; the code checks names.
 */
export const RUNS_RULE_COLUMN = `rule TEXT NOT NULL DEFAULT 'q1'`;

/**
 * `runs.burn_in`: the bytes the network read before the run's window, from h = 0
 * (a warm window; 0: the spec's cold start). Added by the migration from schema 5,
 * at the end of the table, where a new file has it too.
 */
export const RUNS_BURN_IN_COLUMN = `burn_in INTEGER NOT NULL DEFAULT 0 CHECK (burn_in >= 0)`;

/** job_runs' indexes (the migration from schema 3 creates them). */
export const JOB_RUNS_INDEXES = `
  -- A run's jobs (rollups, selections), without a scan of every job's runs.
  CREATE INDEX job_runs_by_run ON job_runs (run_key, job_id);
  -- The finished runs not in their jobs' rollups yet.
  CREATE INDEX job_runs_to_roll_up ON job_runs (job_id) WHERE rolled_up = 0;
`;

/**
 * Schema 11's indexes, for a selection read in order in chunks (selected.ts,
 * `report --by window` over 10⁵ runs): a job's runs in job order, so a chunk
 * starts where the last ended without sorting the job's runs again (UNIQUE: a
 * job's order numbers its runs once each, as recordJob writes them, so no run
 * lies between two chunks); and the runs by window and Dmax, so whether some
 * window and Dmax has two runs is a scan of the index, not a sort of the runs.
 */
export const ORDER_INDEXES = `
  CREATE UNIQUE INDEX job_runs_in_order ON job_runs (job_id, run_order);
  CREATE INDEX runs_by_window ON runs (data_path, data_offset, data_length, dmax);
`;

/** SQL for a run's τ list as `runs.tau_list` holds it, from `run_taus` (`runKey`: the SQL for its key). */
export const TAU_LIST_OF = (runKey: string): string =>
  `(SELECT group_concat(tau, ',') FROM (SELECT tau FROM run_taus rt WHERE rt.run_key = ${runKey} ORDER BY tau_index))`;

/** The count blocks table (its own constant: the migration from schema 3 creates it). */
export const COUNT_BLOCKS_TABLE = `
  -- The counts of a shard at one τ: for t = start … start + count - 1 in order, its
  -- n_x, n_h and n_y, each column a code point array (src/store/codePoints.ts).
  -- The counts view gives one row per position and τ. A rowid table: its rows of a
  -- few KB stay on their pages, where WITHOUT ROWID would spill them to overflow pages.
  CREATE TABLE count_blocks (
    run_key   INTEGER NOT NULL,
    tau_index INTEGER NOT NULL,
    start     INTEGER NOT NULL,
    count     INTEGER NOT NULL CHECK (count > 0),
    n_x       BLOB NOT NULL,
    n_h       BLOB NOT NULL,
    n_y       BLOB NOT NULL,
    UNIQUE (run_key, tau_index, start),
    FOREIGN KEY (run_key, start) REFERENCES shards (run_key, start)
  );
`;

/**
 * Activation frequencies (its own constant: the migration from schema 6 creates
 * them, empty: earlier runs have none). Per run and frequency τ (FREQUENCY_TAUS
 * of src/page.ts), the positions counted so far, and per (class, row) with any
 * pattern active, each pattern's count of positions where it is active, as a code
 * point array of H values.
 */
export const FREQUENCY_TABLES = `
  -- A run counts its patterns' activation frequency at τ (its tau_index-th frequency τ)
  -- from its first shard on; its rows are in pattern_frequency_rows once it is done:
  -- positions is how many of its positions are counted (all of them once it is done;
  -- a run begun before schema 7 has no row, and never gets one).
  CREATE TABLE run_frequency (
    run_key   INTEGER NOT NULL REFERENCES runs (run_key),
    tau_index INTEGER NOT NULL,
    tau       REAL NOT NULL,
    tau_f32   REAL NOT NULL,
    positions INTEGER NOT NULL CHECK (positions >= 0),
    PRIMARY KEY (run_key, tau_index),
    UNIQUE (run_key, tau)
  ) WITHOUT ROWID;
  -- Per (class, row) with a pattern active somewhere: how many positions each of its H
  -- patterns is active at, over j: row c of Wx holds (c, j), row i of Wh holds (j → i),
  -- row y of Wy holds (j, y).
  CREATE TABLE pattern_frequency_rows (
    run_key   INTEGER NOT NULL,
    tau_index INTEGER NOT NULL,
    class     TEXT NOT NULL CHECK (class IN ('wx', 'wh', 'wy')),
    row       INTEGER NOT NULL,
    positions BLOB NOT NULL,
    PRIMARY KEY (run_key, tau_index, class, row),
    FOREIGN KEY (run_key, tau_index) REFERENCES run_frequency (run_key, tau_index)
  ) WITHOUT ROWID;
  -- A running run's frequencies shard by shard (start: the shard's first position), as
  -- pattern_frequency_rows: written with the shard, added up into pattern_frequency_rows
  -- and deleted when the run is done (written once, in order, those rows fill their pages).
  CREATE TABLE frequency_in_progress (
    run_key   INTEGER NOT NULL,
    tau_index INTEGER NOT NULL,
    start     INTEGER NOT NULL,
    class     TEXT NOT NULL CHECK (class IN ('wx', 'wh', 'wy')),
    row       INTEGER NOT NULL,
    positions BLOB NOT NULL,
    PRIMARY KEY (run_key, tau_index, start, class, row),
    FOREIGN KEY (run_key, tau_index) REFERENCES run_frequency (run_key, tau_index)
  ) WITHOUT ROWID;
`;

/** The process writing the file, if any (lock.ts); recreated by the next writer if someone drops it. */
export const WRITER_LOCK_TABLE = `
  CREATE TABLE IF NOT EXISTS writer_lock (
    only_row   INTEGER PRIMARY KEY CHECK (only_row = 1),
    pid        INTEGER NOT NULL,
    host       TEXT NOT NULL,
    command    TEXT NOT NULL,
    started_at TEXT NOT NULL
  );
`;

/**
 * The link between the file and its write-ahead log (walGuard.ts): every log a
 * writer starts begins by setting base to the file's token and a new token.
 */
export const WAL_GUARD_TABLE = `
  CREATE TABLE IF NOT EXISTS wal_guard (
    only_row INTEGER PRIMARY KEY CHECK (only_row = 1),
    base     TEXT NOT NULL,
    token    TEXT NOT NULL
  );
`;

/** A summary at one τ, of a run (run_tau_stats) or of a cohort (cohort_tau_stats). */
export const TAU_STATS_COLUMNS = `    positions      INTEGER NOT NULL,
    sum_x          INTEGER NOT NULL,
    sum_h          INTEGER NOT NULL,
    sum_y          INTEGER NOT NULL,
    min_n          INTEGER NOT NULL,
    median_n       INTEGER NOT NULL,
    max_n          INTEGER NOT NULL,
    distinct_n     INTEGER NOT NULL,
    hist_steps     BLOB NOT NULL,
    hist_large     BLOB NOT NULL,
    hist_positions BLOB NOT NULL,
    active_x       INTEGER NOT NULL,
    active_h       INTEGER NOT NULL,
    active_y       INTEGER NOT NULL,`;

/** Per finished run and τ: the summaries (its own constant: the migration from schema 3 creates it). */
export const RUN_TAU_STATS_TABLE = `
  -- Written when a run finishes: per τ, sums per class, min, median and max of
  -- n = n_x + n_h + n_y, and its histogram: the distinct_n values of n, ascending, the
  -- first min_n, each by its step from the one before (hist_steps: one byte each, 0 for
  -- the first; 126: the step is the next element of hist_large), and how many positions
  -- have each (hist_positions), code point arrays (src/store/histogram.ts); and per
  -- class the patterns active at some position of the run.
  CREATE TABLE run_tau_stats (
    run_key        INTEGER NOT NULL REFERENCES runs (run_key),
    tau_index      INTEGER NOT NULL,
${TAU_STATS_COLUMNS}
    UNIQUE (run_key, tau_index)
  );
`;

/**
 * The scalar columns of run_tau_stats in an index of their own (schema 8): a row
 * holds the run's histogram of n too (about 1.6 KB at 1,000 positions, two rows
 * a 4 KB page at most), so reading every run's figures (a report of 10⁵ one-run groups)
 * would read every page; from this index it reads ~40 bytes a row. The migration
 * from schema 6 creates it.
 */
export const RUN_TAU_STATS_FIGURES_INDEX = `
  CREATE INDEX run_tau_stats_figures ON run_tau_stats
    (run_key, tau_index, positions, sum_x, sum_h, sum_y, min_n, median_n, max_n, active_x, active_h, active_y);
`;

/** What a summaries run keeps of its peaks (the migration from schema 3 creates it). */
export const RUN_PAGE_PATTERNS_TABLE = `
  -- A run kept as summaries: per (class, row) of its dropped peak rows, the patterns
  -- active at τ = 0.01 somewhere in the run, six per element of a code point array
  -- (pattern k is bit k % 6 of element ⌊k / 6⌋; retention.ts).
  CREATE TABLE run_page_patterns (
    run_key INTEGER NOT NULL REFERENCES runs (run_key),
    class   TEXT NOT NULL CHECK (class IN ('wx', 'wh', 'wy')),
    row     INTEGER NOT NULL,
    active  BLOB NOT NULL,
    UNIQUE (run_key, class, row)
  );
`;

/** A cohort per τ (its own constant: the migration from schema 8 makes it again, its histograms as steps). */
export const COHORT_TAU_STATS_TABLE = `
  -- A cohort per τ: as run_tau_stats, over all its runs (active: somewhere in any run).
  CREATE TABLE cohort_tau_stats (
    job_id         INTEGER NOT NULL,
    model_key      INTEGER NOT NULL,
    dmax           INTEGER NOT NULL,
    data_path      TEXT NOT NULL,
    tau_index      INTEGER NOT NULL,
    tau            REAL NOT NULL,
${TAU_STATS_COLUMNS}
    UNIQUE (job_id, model_key, dmax, data_path, tau_index),
    FOREIGN KEY (job_id, model_key, dmax, data_path) REFERENCES job_cohorts (job_id, model_key, dmax, data_path)
  );
`;

/**
 * A cohort's activation frequencies (schema 9; its own constant: the migration
 * from schema 8 creates them and fills them from the cohorts' runs): per
 * frequency τ, its runs' pattern_frequency_rows added up, so that a report of
 * whole cohorts reads a few hundred rows per cohort, and a run kept as
 * summaries can drop its own rows once its cohorts hold them.
 */
export const COHORT_FREQUENCY_TABLES = `
  -- A cohort at a frequency τ: the runs whose every position was counted (runs) and
  -- their positions; complete = 0 when some such run's rows were already dropped (kept as
  -- summaries) when the cohort was made, so the sums lack them.
  CREATE TABLE cohort_frequency (
    job_id    INTEGER NOT NULL,
    model_key INTEGER NOT NULL,
    dmax      INTEGER NOT NULL,
    data_path TEXT NOT NULL,
    tau       REAL NOT NULL,
    tau_f32   REAL NOT NULL,
    runs      INTEGER NOT NULL CHECK (runs >= 0),
    positions INTEGER NOT NULL CHECK (positions >= 0),
    complete  INTEGER NOT NULL CHECK (complete IN (0, 1)),
    PRIMARY KEY (job_id, model_key, dmax, data_path, tau),
    FOREIGN KEY (job_id, model_key, dmax, data_path) REFERENCES job_cohorts (job_id, model_key, dmax, data_path)
  ) WITHOUT ROWID;
  -- Per (class, row) with a pattern active in some run: each of its H patterns' positions
  -- summed over those runs, laid out as pattern_frequency_rows, a code point array.
  CREATE TABLE cohort_frequency_rows (
    job_id    INTEGER NOT NULL,
    model_key INTEGER NOT NULL,
    dmax      INTEGER NOT NULL,
    data_path TEXT NOT NULL,
    tau       REAL NOT NULL,
    class     TEXT NOT NULL CHECK (class IN ('wx', 'wh', 'wy')),
    row       INTEGER NOT NULL,
    positions BLOB NOT NULL,
    PRIMARY KEY (job_id, model_key, dmax, data_path, tau, class, row),
    FOREIGN KEY (job_id, model_key, dmax, data_path, tau) REFERENCES cohort_frequency (job_id, model_key, dmax, data_path, tau)
  ) WITHOUT ROWID;
`;

/**
 * Rollups per job, model, Dmax and data file (rollups.ts; the migration from
 * schema 6 makes them again). `data_path` '' is a cohort of every data file, kept
 * only where schema 6's cohort could not be split (its runs' peaks are gone).
 */
export const COHORT_TABLES = `
  -- A job's finished runs of one model, Dmax and data file (a cohort), summed up as they
  -- finish: runs and positions, the exact sum of their surprisals (hi, lo), and whether
  -- every run's pattern peaks went into cohort_pattern_levels.
  CREATE TABLE job_cohorts (
    job_id         INTEGER NOT NULL REFERENCES jobs (job_id),
    model_key      INTEGER NOT NULL REFERENCES models (model_key),
    dmax           INTEGER NOT NULL,
    data_path      TEXT NOT NULL,
    runs           INTEGER NOT NULL,
    positions      INTEGER NOT NULL,
    surprisal_sum  REAL NOT NULL,
    surprisal_err  REAL NOT NULL,
    peaks_complete INTEGER NOT NULL CHECK (peaks_complete IN (0, 1)),
    PRIMARY KEY (job_id, model_key, dmax, data_path)
  ) WITHOUT ROWID;
${COHORT_TAU_STATS_TABLE}  -- A cohort per offset d: its runs' depth sums added up exactly.
  CREATE TABLE cohort_depth (
    job_id    INTEGER NOT NULL,
    model_key INTEGER NOT NULL,
    dmax      INTEGER NOT NULL,
    data_path TEXT NOT NULL,
    d         INTEGER NOT NULL,
    positions INTEGER NOT NULL,
    mass_sum  REAL NOT NULL,
    mass_err  REAL NOT NULL,
    PRIMARY KEY (job_id, model_key, dmax, data_path, d),
    FOREIGN KEY (job_id, model_key, dmax, data_path) REFERENCES job_cohorts (job_id, model_key, dmax, data_path)
  ) WITHOUT ROWID;
  -- A cohort's pattern levels: per pattern, how many of the job's τ (as float32) its
  -- peak exceeds in some run, laid out as pattern_peak_rows, as a code point array.
  CREATE TABLE cohort_pattern_levels (
    job_id    INTEGER NOT NULL,
    model_key INTEGER NOT NULL,
    dmax      INTEGER NOT NULL,
    data_path TEXT NOT NULL,
    class     TEXT NOT NULL CHECK (class IN ('wx', 'wh', 'wy')),
    row       INTEGER NOT NULL,
    levels    BLOB NOT NULL,
    UNIQUE (job_id, model_key, dmax, data_path, class, row),
    FOREIGN KEY (job_id, model_key, dmax, data_path) REFERENCES job_cohorts (job_id, model_key, dmax, data_path)
  );
${COHORT_FREQUENCY_TABLES}`;

const count = (column: string) => codePointSql(`b.${column}`, 'b.count', 's.key');
const histogram = (column: string) => codePointSql(`h.${column}`, 'h.distinct_n', 's.key');
/** Element s.key of hist_steps (one byte each: a value 0 … 126). */
const step = `(unicode(substr(h.hist_steps, s.key + 1, 1)) - 1)`;
/** How many of the first `count` elements of hist_steps are LARGE_STEP (char(127) in its bytes as text). */
const escapes = (count: string) => `(${count} - length(replace(substr(CAST(h.hist_steps AS TEXT), 1, ${count}), char(${LARGE_STEP + 1}), '')))`;
/** The columns a run_histograms row's windows are partitioned by: every column a query filters on, so SQLite pushes such a filter down into them. */
const histogramRow = 'PARTITION BY run_id, run_key, tau, tau_index';
const peak = float32Sql('pr.peaks', 's.key');
const frequency = codePointSql('f.positions', 'm.hidden', 's.key');

/** The views: plain SQL over the tables (dropped and made again by migrations). */
export const VIEWS = `
  -- The tables as 0.1.0 had them, with run ids and τ values.
  CREATE VIEW positions AS
    SELECT r.run_id, p.run_key, p.t, p.y, p.surprisal_bits, p.mass_total, p.peak_d
    FROM position_rows p JOIN runs r USING (run_key);
  CREATE VIEW counts AS
    SELECT r.run_id, b.run_key, rt.tau, b.tau_index, rt.tau_f32, b.start + s.key AS t,
           ${count('n_x')} AS n_x, ${count('n_h')} AS n_h, ${count('n_y')} AS n_y
    FROM count_blocks b JOIN runs r USING (run_key) JOIN run_taus rt USING (run_key, tau_index)
    JOIN ${sequenceSql('b.count')} s;
  CREATE VIEW depth_mass AS
    SELECT r.run_id, m.run_key, m.d, m.t, m.mass
    FROM depth_rows m JOIN runs r USING (run_key);
  -- 0.1.0's pattern_peaks: every pattern with a non-zero peak.
  CREATE VIEW pattern_peaks AS
    SELECT run_id, run_key, class, src, dst, peak FROM (
      SELECT r.run_id, pr.run_key, pr.class,
             CASE pr.class WHEN 'wx' THEN pr.row WHEN 'wy' THEN s.key ELSE s.key % m.hidden END AS src,
             CASE pr.class WHEN 'wx' THEN s.key WHEN 'wy' THEN pr.row ELSE s.key / m.hidden END AS dst,
             ${peak} AS peak
      FROM pattern_peak_rows pr JOIN runs r USING (run_key) JOIN models m USING (model_key)
      JOIN ${sequenceSql('length(pr.peaks) / 4')} s)
    WHERE peak > 0;
  -- A finished run's distribution of n = n_x + n_h + n_y at each τ: its values of n are
  -- min_n plus the steps up to them; a large step is the element of hist_large after as
  -- many as there are escapes (char(127)) before it in hist_steps, read as ASCII text.
  CREATE VIEW run_histograms AS
    SELECT run_id, run_key, tau, tau_index,
           min_n + sum(step) OVER (${histogramRow} ORDER BY k ROWS UNBOUNDED PRECEDING) AS n, positions
    FROM (
      SELECT r.run_id, h.run_key, rt.tau, h.tau_index, s.key AS k, h.min_n,
             CASE WHEN ${step} < ${LARGE_STEP} THEN ${step} ELSE ${codePointSql('h.hist_large', escapes('h.distinct_n'), escapes('s.key'))} END AS step,
             ${histogram('hist_positions')} AS positions
      FROM run_tau_stats h JOIN runs r USING (run_key) JOIN run_taus rt USING (run_key, tau_index)
      JOIN ${sequenceSql('h.distinct_n')} s);
  -- Per run, pattern and frequency τ: the positions where the pattern is active (> 0 only),
  -- for runs whose every position is counted.
  CREATE VIEW pattern_frequency AS
    SELECT run_id, run_key, class, src, dst, tau, positions FROM (
      SELECT r.run_id, f.run_key, f.class,
             CASE f.class WHEN 'wx' THEN f.row ELSE s.key END AS src,
             CASE f.class WHEN 'wx' THEN s.key ELSE f.row END AS dst,
             rf.tau, ${frequency} AS positions
      FROM pattern_frequency_rows f JOIN run_frequency rf USING (run_key, tau_index) JOIN runs r USING (run_key)
      JOIN models m USING (model_key)
      JOIN ${sequenceSql('m.hidden')} s
      WHERE rf.positions = r.positions)
    WHERE positions > 0;
  -- Per cohort (a job's finished runs of one model, Dmax and data file), frequency τ and
  -- pattern: the positions where the pattern is active, summed over the cohort's runs that
  -- counted every position (> 0 only), for cohorts whose sums hold all of them.
  CREATE VIEW cohort_pattern_frequency AS
    SELECT job_id, model_key, dmax, data_path, tau, class, src, dst, positions FROM (
      SELECT f.job_id, f.model_key, f.dmax, f.data_path, f.tau, f.class,
             CASE f.class WHEN 'wx' THEN f.row ELSE s.key END AS src,
             CASE f.class WHEN 'wx' THEN s.key ELSE f.row END AS dst,
             ${frequency} AS positions
      FROM cohort_frequency_rows f JOIN cohort_frequency c USING (job_id, model_key, dmax, data_path, tau)
      JOIN models m USING (model_key)
      JOIN ${sequenceSql('m.hidden')} s
      WHERE c.complete = 1)
    WHERE positions > 0;
`;

export const SCHEMA = `
  CREATE TABLE models (
    model_key      INTEGER PRIMARY KEY,
    model_sha256   TEXT NOT NULL UNIQUE,
    path           TEXT NOT NULL,
    hidden         INTEGER NOT NULL CHECK (hidden >= 1),
    significant_wx INTEGER NOT NULL,
    significant_wh INTEGER NOT NULL,
    significant_wy INTEGER NOT NULL,
    significant_total INTEGER NOT NULL
  );

  CREATE TABLE runs (
    run_key       INTEGER PRIMARY KEY,
    run_id        TEXT NOT NULL UNIQUE,
    model_key     INTEGER NOT NULL REFERENCES models (model_key),
    data_path     TEXT NOT NULL,
    data_offset   INTEGER NOT NULL,
    data_length   INTEGER NOT NULL,
    data_sha256   TEXT NOT NULL,
    dmax          INTEGER NOT NULL,
    gate          REAL NOT NULL,
    positions     INTEGER NOT NULL,
    depth_curves  INTEGER NOT NULL DEFAULT 0 CHECK (depth_curves IN (0, 1)),
    status        TEXT NOT NULL CHECK (status IN ('pending', 'running', 'done')),
    tool_version  TEXT NOT NULL,
    created_at    TEXT NOT NULL,
    started_at    TEXT,
    finished_at   TEXT,
    compute_seconds REAL NOT NULL DEFAULT 0,
    -- 'summaries': its per-position rows are dropped once it is done (runWriter.ts).
    keep          TEXT NOT NULL DEFAULT 'full' CHECK (keep IN ('full', 'summaries')),
    -- Its τ list as given, comma-separated in run_taus order (a copy of run_taus, so
    -- listing 10⁵ runs reads no other table).
    tau_list      TEXT NOT NULL DEFAULT '',
    -- Only for a run that 0.1.0 left unfinished: its merged peak factors, turned into
    -- pattern_peak_rows (which needs the model) when the run resumes.
    legacy_peak_factors BLOB,
    -- The attribution rule: a name of RULES in src/engine/computation.ts ('q1': the spec's).
    ${RUNS_RULE_COLUMN},
    -- Bytes read before the window [data_offset, data_offset + data_length), from h = 0; the
    -- traces of its positions may reach back into them (0: the spec's cold start).
    ${RUNS_BURN_IN_COLUMN}
  );

  CREATE TABLE run_taus (
    run_key   INTEGER NOT NULL REFERENCES runs (run_key),
    tau_index INTEGER NOT NULL,
    tau       REAL NOT NULL,
    tau_f32   REAL NOT NULL,
    PRIMARY KEY (run_key, tau_index),
    UNIQUE (run_key, tau)
  ) WITHOUT ROWID;
  CREATE INDEX run_taus_by_tau ON run_taus (tau, run_key);

  CREATE TABLE jobs (
    job_id      INTEGER PRIMARY KEY,
    name        TEXT NOT NULL,
    job_sha256  TEXT NOT NULL UNIQUE,
    source      TEXT,
    spec_json   TEXT NOT NULL,
    created_at  TEXT NOT NULL,
    last_started_at TEXT
  );

  CREATE TABLE job_runs (
    job_id    INTEGER NOT NULL REFERENCES jobs (job_id),
    run_key   INTEGER NOT NULL REFERENCES runs (run_key),
    run_order INTEGER NOT NULL,
    -- 1 once the finished run is in its job's rollups (rollups.ts).
    rolled_up INTEGER NOT NULL DEFAULT 0 CHECK (rolled_up IN (0, 1)),
    PRIMARY KEY (job_id, run_key)
  ) WITHOUT ROWID;
${JOB_RUNS_INDEXES}
${ORDER_INDEXES}

  -- Committed ranges of positions (resume computes the gaps), with the exact sum
  -- of their surprisals as (hi, lo) for bpc.
  CREATE TABLE shards (
    run_key       INTEGER NOT NULL REFERENCES runs (run_key),
    start         INTEGER NOT NULL,
    count         INTEGER NOT NULL CHECK (count > 0),
    seconds       REAL NOT NULL,
    committed_at  TEXT NOT NULL,
    surprisal_sum REAL NOT NULL,
    surprisal_err REAL NOT NULL,
    PRIMARY KEY (run_key, start)
  ) WITHOUT ROWID;

  -- Per shard and offset d: the positions where d exists and the exact sum of their mass.
  CREATE TABLE shard_depth (
    run_key   INTEGER NOT NULL,
    start     INTEGER NOT NULL,
    d         INTEGER NOT NULL,
    positions INTEGER NOT NULL,
    mass_sum  REAL NOT NULL,
    mass_err  REAL NOT NULL,
    PRIMARY KEY (run_key, start, d),
    FOREIGN KEY (run_key, start) REFERENCES shards (run_key, start)
  ) WITHOUT ROWID;

  CREATE TABLE position_rows (
    run_key        INTEGER NOT NULL REFERENCES runs (run_key),
    t              INTEGER NOT NULL,
    y              INTEGER NOT NULL,
    surprisal_bits REAL NOT NULL,
    mass_total     REAL NOT NULL,
    peak_d         INTEGER,
    PRIMARY KEY (run_key, t)
  ) WITHOUT ROWID;

${COUNT_BLOCKS_TABLE}
  -- Only for runs with depth_curves = 1: every position's mass at every d ≤ min(t, Dmax).
  CREATE TABLE depth_rows (
    run_key INTEGER NOT NULL REFERENCES runs (run_key),
    d       INTEGER NOT NULL,
    t       INTEGER NOT NULL,
    mass    REAL NOT NULL,
    PRIMARY KEY (run_key, d, t)
  ) WITHOUT ROWID;

  -- Peak attribution of every pattern over the committed positions of a run, as
  -- float32 BLOBs, one per (run, class, row) with a non-zero peak: row c of Wx holds
  -- (c, j) over j, row y of Wy holds (j, y) over j (H values); the one row 0 of Wh
  -- holds (j → i) at i·H + j (H² values).
  CREATE TABLE pattern_peak_rows (
    run_key INTEGER NOT NULL REFERENCES runs (run_key),
    class   TEXT NOT NULL CHECK (class IN ('wx', 'wh', 'wy')),
    row     INTEGER NOT NULL,
    peaks   BLOB NOT NULL,
    PRIMARY KEY (run_key, class, row)
  );

${RUN_TAU_STATS_TABLE}
${RUN_TAU_STATS_FIGURES_INDEX}
${RUN_PAGE_PATTERNS_TABLE}
${RUN_OVERVIEW_TABLE}
${COHORT_TABLES}
  -- Written when a run finishes: per offset d, its shards' depth sums added up exactly.
  CREATE TABLE run_depth (
    run_key   INTEGER NOT NULL REFERENCES runs (run_key),
    d         INTEGER NOT NULL,
    positions INTEGER NOT NULL,
    mass_sum  REAL NOT NULL,
    mass_err  REAL NOT NULL,
    PRIMARY KEY (run_key, d)
  ) WITHOUT ROWID;

${FREQUENCY_TABLES}
${WRITER_LOCK_TABLE}
${WAL_GUARD_TABLE}
  INSERT INTO wal_guard (only_row, base, token) VALUES (1, '', lower(hex(randomblob(16))));

${VIEWS}`;
