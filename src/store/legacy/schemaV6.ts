import { TAU_STATS_COLUMNS_V8 } from './schemaV8.js';

/**
 * Schema 4 to 6's rollup tables as they were (cohorts keyed by job, model and
 * Dmax, without the data file), for the migrations only: 3 → 4 creates them,
 * 6 → 7 (../migrate.ts) replaces them in the same transaction. Never change it.
 */
export const COHORT_TABLES_V6 = `
  -- A job's finished runs of one model and Dmax (a cohort), summed up as they finish:
  -- runs and positions, the exact sum of their surprisals (hi, lo), and whether every
  -- run's pattern peaks went into cohort_pattern_levels.
  CREATE TABLE job_cohorts (
    job_id         INTEGER NOT NULL REFERENCES jobs (job_id),
    model_key      INTEGER NOT NULL REFERENCES models (model_key),
    dmax           INTEGER NOT NULL,
    runs           INTEGER NOT NULL,
    positions      INTEGER NOT NULL,
    surprisal_sum  REAL NOT NULL,
    surprisal_err  REAL NOT NULL,
    peaks_complete INTEGER NOT NULL CHECK (peaks_complete IN (0, 1)),
    PRIMARY KEY (job_id, model_key, dmax)
  ) WITHOUT ROWID;
  -- A cohort per τ: as run_tau_stats, over all its runs (active: somewhere in any run).
  CREATE TABLE cohort_tau_stats (
    job_id         INTEGER NOT NULL,
    model_key      INTEGER NOT NULL,
    dmax           INTEGER NOT NULL,
    tau_index      INTEGER NOT NULL,
    tau            REAL NOT NULL,
${TAU_STATS_COLUMNS_V8}
    UNIQUE (job_id, model_key, dmax, tau_index),
    FOREIGN KEY (job_id, model_key, dmax) REFERENCES job_cohorts (job_id, model_key, dmax)
  );
  -- A cohort per offset d: its runs' depth sums added up exactly.
  CREATE TABLE cohort_depth (
    job_id    INTEGER NOT NULL,
    model_key INTEGER NOT NULL,
    dmax      INTEGER NOT NULL,
    d         INTEGER NOT NULL,
    positions INTEGER NOT NULL,
    mass_sum  REAL NOT NULL,
    mass_err  REAL NOT NULL,
    PRIMARY KEY (job_id, model_key, dmax, d),
    FOREIGN KEY (job_id, model_key, dmax) REFERENCES job_cohorts (job_id, model_key, dmax)
  ) WITHOUT ROWID;
  -- A cohort's pattern levels: per pattern, how many of the job's τ (as float32) its
  -- peak exceeds in some run, laid out as pattern_peak_rows, as a code point array.
  CREATE TABLE cohort_pattern_levels (
    job_id    INTEGER NOT NULL,
    model_key INTEGER NOT NULL,
    dmax      INTEGER NOT NULL,
    class     TEXT NOT NULL CHECK (class IN ('wx', 'wh', 'wy')),
    row       INTEGER NOT NULL,
    levels    BLOB NOT NULL,
    UNIQUE (job_id, model_key, dmax, class, row),
    FOREIGN KEY (job_id, model_key, dmax) REFERENCES job_cohorts (job_id, model_key, dmax)
  );
`;
