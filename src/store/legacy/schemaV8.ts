import { codePointsOf } from '../codePoints.js';
import type { CountHistogram } from '../histogram.js';

/**
 * Schema 4 to 8's summaries and schema 8's rollup tables as they were (histograms
 * of n as their values, `hist_n`), for the migrations only: 3 → 4 and 7 → 8 create
 * them, 8 → 9 (../migrate.ts) replaces them in the same transaction. Never change it.
 */

/** A summary at one τ, schema 4 to 8. */
export const TAU_STATS_COLUMNS_V8 = `    positions      INTEGER NOT NULL,
    sum_x          INTEGER NOT NULL,
    sum_h          INTEGER NOT NULL,
    sum_y          INTEGER NOT NULL,
    min_n          INTEGER NOT NULL,
    median_n       INTEGER NOT NULL,
    max_n          INTEGER NOT NULL,
    distinct_n     INTEGER NOT NULL,
    hist_n         BLOB NOT NULL,
    hist_positions BLOB NOT NULL,
    active_x       INTEGER NOT NULL,
    active_h       INTEGER NOT NULL,
    active_y       INTEGER NOT NULL,`;

/** Per finished run and τ, schema 4 to 8. */
export const RUN_TAU_STATS_TABLE_V8 = `
  -- Written when a run finishes: per τ, sums per class, min, median and max of
  -- n = n_x + n_h + n_y, and its histogram: the distinct_n values of n, ascending
  -- (hist_n), and how many positions have each (hist_positions), code point arrays;
  -- and per class the patterns active at some position of the run.
  CREATE TABLE run_tau_stats (
    run_key        INTEGER NOT NULL REFERENCES runs (run_key),
    tau_index      INTEGER NOT NULL,
${TAU_STATS_COLUMNS_V8}
    UNIQUE (run_key, tau_index)
  );
`;

/** Schema 8's rollup tables. */
export const COHORT_TABLES_V8 = `
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
  -- A cohort per τ: as run_tau_stats, over all its runs (active: somewhere in any run).
  CREATE TABLE cohort_tau_stats (
    job_id         INTEGER NOT NULL,
    model_key      INTEGER NOT NULL,
    dmax           INTEGER NOT NULL,
    data_path      TEXT NOT NULL,
    tau_index      INTEGER NOT NULL,
    tau            REAL NOT NULL,
${TAU_STATS_COLUMNS_V8}
    UNIQUE (job_id, model_key, dmax, data_path, tau_index),
    FOREIGN KEY (job_id, model_key, dmax, data_path) REFERENCES job_cohorts (job_id, model_key, dmax, data_path)
  );
  -- A cohort per offset d: its runs' depth sums added up exactly.
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
`;

/** A histogram as schemas 4 to 8 stored it: its distinct values of n ascending (hist_n) and their positions, code point arrays. */
export function encodeHistogramV8(histogram: CountHistogram): { distinct_n: number; hist_n: Buffer; hist_positions: Buffer } {
  const entries = histogram.entries();
  return {
    distinct_n: entries.length,
    hist_n: codePointsOf(entries.map((entry) => entry.n)),
    hist_positions: codePointsOf(entries.map((entry) => entry.positions)),
  };
}
