/**
 * The store's schema, as ordered migrations. `PRAGMA user_version` holds the
 * number of migrations applied; opening a database applies the missing ones in
 * one transaction. Never edit a released migration: add a new one.
 *
 * The tables (documented for users in docs/schema.md):
 * - models:        one row per model content (sha256), with H and significant weights.
 * - runs:          one row per run: model × data window × Dmax × τ list; `run_id` is a
 *                  hash of their content, so the same job finds the same runs again.
 * - run_taus:      the run's thresholds, as given and as the float32 actually compared.
 * - jobs, job_runs: job files as expanded, and which runs each job consists of.
 * - shards:        contiguous position ranges committed so far (resume = the gaps).
 * - positions:     per position: target byte y and surprisal in bits.
 * - counts:        per position and τ: n_x, n_h, n_y.
 * - depth_mass:    per position and offset d ≤ min(t, Dmax): attribution mass.
 * - pattern_peaks: per run, every pattern's peak attribution over positions (peak > 0 only).
 * - writer_lock:   the one process allowed to write (pid, host), see store/lock.ts.
 */
export const MIGRATIONS: readonly string[] = [
  `
  CREATE TABLE models (
    model_sha256   TEXT PRIMARY KEY,
    path           TEXT NOT NULL,
    hidden         INTEGER NOT NULL CHECK (hidden >= 1),
    significant_wx INTEGER NOT NULL,
    significant_wh INTEGER NOT NULL,
    significant_wy INTEGER NOT NULL,
    significant_total INTEGER NOT NULL
  );

  CREATE TABLE runs (
    run_id        TEXT PRIMARY KEY,
    model_sha256  TEXT NOT NULL REFERENCES models(model_sha256),
    data_path     TEXT NOT NULL,
    data_offset   INTEGER NOT NULL,
    data_length   INTEGER NOT NULL,
    data_sha256   TEXT NOT NULL,
    dmax          INTEGER NOT NULL,
    gate          REAL NOT NULL,
    positions     INTEGER NOT NULL,
    status        TEXT NOT NULL CHECK (status IN ('pending', 'running', 'done')),
    tool_version  TEXT NOT NULL,
    created_at    TEXT NOT NULL,
    started_at    TEXT,
    finished_at   TEXT,
    compute_seconds REAL NOT NULL DEFAULT 0,
    -- Merged per-pattern peak factors of the committed shards (engine layout), so a
    -- resumed run can finish pattern_peaks without recomputing. Internal.
    peak_factors  BLOB
  );

  CREATE TABLE run_taus (
    run_id    TEXT NOT NULL REFERENCES runs(run_id),
    tau_index INTEGER NOT NULL,
    tau       REAL NOT NULL,
    tau_f32   REAL NOT NULL,
    PRIMARY KEY (run_id, tau_index),
    UNIQUE (run_id, tau)
  ) WITHOUT ROWID;

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
    job_id   INTEGER NOT NULL REFERENCES jobs(job_id),
    run_id   TEXT NOT NULL REFERENCES runs(run_id),
    run_order INTEGER NOT NULL,
    PRIMARY KEY (job_id, run_id)
  ) WITHOUT ROWID;

  CREATE TABLE shards (
    run_id       TEXT NOT NULL REFERENCES runs(run_id),
    start        INTEGER NOT NULL,
    count        INTEGER NOT NULL CHECK (count > 0),
    seconds      REAL NOT NULL,
    committed_at TEXT NOT NULL,
    PRIMARY KEY (run_id, start)
  ) WITHOUT ROWID;

  CREATE TABLE positions (
    run_id         TEXT NOT NULL REFERENCES runs(run_id),
    t              INTEGER NOT NULL,
    y              INTEGER NOT NULL,
    surprisal_bits REAL NOT NULL,
    PRIMARY KEY (run_id, t)
  ) WITHOUT ROWID;

  CREATE TABLE counts (
    run_id TEXT NOT NULL REFERENCES runs(run_id),
    tau    REAL NOT NULL,
    t      INTEGER NOT NULL,
    n_x    INTEGER NOT NULL,
    n_h    INTEGER NOT NULL,
    n_y    INTEGER NOT NULL,
    PRIMARY KEY (run_id, tau, t)
  ) WITHOUT ROWID;

  CREATE TABLE depth_mass (
    run_id TEXT NOT NULL REFERENCES runs(run_id),
    d      INTEGER NOT NULL,
    t      INTEGER NOT NULL,
    mass   REAL NOT NULL,
    PRIMARY KEY (run_id, d, t)
  ) WITHOUT ROWID;

  CREATE TABLE pattern_peaks (
    run_id TEXT NOT NULL REFERENCES runs(run_id),
    class  TEXT NOT NULL CHECK (class IN ('wx', 'wh', 'wy')),
    src    INTEGER NOT NULL,
    dst    INTEGER NOT NULL,
    peak   REAL NOT NULL,
    PRIMARY KEY (run_id, class, src, dst)
  ) WITHOUT ROWID;

  CREATE TABLE writer_lock (
    only_row   INTEGER PRIMARY KEY CHECK (only_row = 1),
    pid        INTEGER NOT NULL,
    host       TEXT NOT NULL,
    command    TEXT NOT NULL,
    started_at TEXT NOT NULL
  );
  `,
];

/** The schema version this build writes: the number of migrations. */
export const SCHEMA_VERSION = MIGRATIONS.length;
