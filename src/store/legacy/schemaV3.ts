/**
 * Schema 3 as it was, for the migrations only: 1 → 3 and 2 → 3 build it, then
 * 3 → 4 (../migrate.ts) turns it into the current schema in the same
 * transaction. Never change it.
 */

/** The count blocks table (its own constant: the migration from schema 2 creates it too). */
export const COUNT_BLOCKS_TABLE_V3 = `
  -- The counts of a shard at one τ: per position t = start … start + count - 1, its
  -- n_x, n_h, n_y, as uint16 (uint32 when a count needs it) little-endian (see
  -- src/store/countBlocks.ts). The counts view gives one row per position and τ.
  CREATE TABLE count_blocks (
    run_key   INTEGER NOT NULL,
    tau_index INTEGER NOT NULL,
    start     INTEGER NOT NULL,
    count     INTEGER NOT NULL,
    counts    BLOB NOT NULL,
    PRIMARY KEY (run_key, tau_index, start),
    FOREIGN KEY (run_key, start) REFERENCES shards (run_key, start)
  ) WITHOUT ROWID;
`;

export const SCHEMA_V3 = `
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
    -- Only for a run that 0.1.0 left unfinished: its merged peak factors, turned into
    -- pattern_peak_rows (which needs the model) when the run resumes.
    legacy_peak_factors BLOB
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
    PRIMARY KEY (job_id, run_key)
  ) WITHOUT ROWID;

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

${COUNT_BLOCKS_TABLE_V3}
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

  -- Written when a run finishes: per τ, sums per class, min and max of n = n_x + n_h + n_y,
  -- and every position's n in ascending order (uint32 little-endian), from which
  -- sorted_median() takes the median of any selection of runs.
  CREATE TABLE run_tau_stats (
    run_key   INTEGER NOT NULL REFERENCES runs (run_key),
    tau_index INTEGER NOT NULL,
    positions INTEGER NOT NULL,
    sum_x     INTEGER NOT NULL,
    sum_h     INTEGER NOT NULL,
    sum_y     INTEGER NOT NULL,
    min_n     INTEGER NOT NULL,
    max_n     INTEGER NOT NULL,
    sorted_n  BLOB NOT NULL,
    PRIMARY KEY (run_key, tau_index)
  );

  -- Written when a run finishes: per offset d, its shards' depth sums added up exactly.
  CREATE TABLE run_depth (
    run_key   INTEGER NOT NULL REFERENCES runs (run_key),
    d         INTEGER NOT NULL,
    positions INTEGER NOT NULL,
    mass_sum  REAL NOT NULL,
    mass_err  REAL NOT NULL,
    PRIMARY KEY (run_key, d)
  ) WITHOUT ROWID;

  CREATE TABLE writer_lock (
    only_row   INTEGER PRIMARY KEY CHECK (only_row = 1),
    pid        INTEGER NOT NULL,
    host       TEXT NOT NULL,
    command    TEXT NOT NULL,
    started_at TEXT NOT NULL
  );

  -- The tables as 0.1.0 had them, with run ids and τ values.
  CREATE VIEW positions AS
    SELECT r.run_id, p.run_key, p.t, p.y, p.surprisal_bits, p.mass_total, p.peak_d
    FROM position_rows p JOIN runs r USING (run_key);
  CREATE VIEW counts AS
    SELECT r.run_id, b.run_key, rt.tau, b.tau_index, rt.tau_f32, c.t, c.n_x, c.n_h, c.n_y
    FROM count_blocks b JOIN runs r USING (run_key) JOIN run_taus rt USING (run_key, tau_index)
    JOIN counts_of(b.start, b.count, b.counts) c;
  CREATE VIEW depth_mass AS
    SELECT r.run_id, m.run_key, m.d, m.t, m.mass
    FROM depth_rows m JOIN runs r USING (run_key);
  -- 0.1.0's pattern_peaks: every pattern with a non-zero peak; needs the peaks_of
  -- function, which sparsetrace's connections have (src/store/functions.ts).
  CREATE VIEW pattern_peaks AS
    SELECT r.run_id, pr.run_key, pr.class, p.src, p.dst, p.peak
    FROM pattern_peak_rows pr JOIN runs r USING (run_key) JOIN peaks_of(pr.class, pr.row, pr.peaks) p;
`;

/** Schema 3's per-τ summaries of the runs `runFilter` matches, with the functions of functionsV3.ts. */
export const TAU_STATS_SELECT_V3 = (runFilter: string): string => `
  SELECT run_key, tau_index, sum(count) AS positions,
         sum(block_stat(count, counts, 'sum_x')) AS sum_x, sum(block_stat(count, counts, 'sum_h')) AS sum_h,
         sum(block_stat(count, counts, 'sum_y')) AS sum_y, min(block_stat(count, counts, 'min_n')) AS min_n,
         max(block_stat(count, counts, 'max_n')) AS max_n, sorted_totals(count, counts) AS sorted_n
  FROM count_blocks WHERE ${runFilter}
  GROUP BY run_key, tau_index`;

