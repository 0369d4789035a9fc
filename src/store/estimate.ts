import Database from 'better-sqlite3';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Db } from './db.js';

/**
 * What the store takes on disk, as a per-row model of schema 2 (store/schema.ts):
 * per position one `position_rows` row, per position and τ one `count_rows` row
 * and 4 bytes of `run_tau_stats.sorted_n`; per shard and offset one
 * `shard_depth` row; per position and offset one `depth_rows` row only when the
 * run keeps depth curves; per run one `pattern_peak_rows` BLOB of H float32 for
 * each row of Wh and each byte a window uses in Wx and Wy.
 *
 * Measured with SQLite's dbstat (pages of each table and its index ÷ its rows):
 * - jobs/example-sweep.json (112 runs, 111,504 positions, 17 τ, Dmax 20 and 50,
 *   no depth curves): 70.7 MB, 634 B/position. count_rows 41.7 MB / 1,895,568
 *   rows = 22.0 B; run_tau_stats 8.7 MB = 4.6 B per position and τ;
 *   position_rows 3.95 MB / 111,504 = 35.4 B; shard_depth 0.88 MB / 32,256 rows
 *   = 27.2 B (8 shards per run); pattern_peak_rows 15.1 MB / 25,106 rows = 603 B
 *   (224 rows, 135 kB, per run).
 * - the Q1 job with depth curves (1,023 positions, Dmax 50): depth_rows 1.09 MB /
 *   50,898 rows = 21.3 B.
 * (Schema 1, sparsetrace 0.1.0, took 3,458 B/position on the example sweep and
 * 3,880 on Q1: 46.6 B per counts row, 40.7 per depth row, 1.18 MB of pattern
 * peaks per run.) When the store changes, measure again and replace these; `plan`
 * prefers the bytes per position measured on the target database when it holds
 * finished runs.
 */
export const STORE_BYTES = {
  /** Per position and τ: a `count_rows` row and its 4 bytes in `run_tau_stats.sorted_n`. */
  perCountsRow: 22.0 + 4.6,
  /** A `depth_rows` row: a position at one offset d ≤ min(t, Dmax), only with depth curves. */
  perDepthRow: 21.3,
  /** A `position_rows` row. */
  perPositionRow: 35.4,
  /** A `shard_depth` row: a shard at one offset. */
  perShardDepthRow: 27.2,
  /** Shards per run (the runner's default shard size cuts a window into about 8). */
  shardsPerRun: 8,
  /** A `pattern_peak_rows` row is H float32 and about this much more; a run has about H + 96 of them (Wh, and Wx/Wy for the ~48 bytes a window uses). */
  perPeakRowOverhead: 91,
  /** A run's own rows (runs, run_taus, job_runs, shards), roughly. */
  perRun: 2048,
} as const;

export interface StoreContent {
  /** Positions, over all the runs. */
  readonly positions: number;
  /** Thresholds per run. */
  readonly taus: number;
  /** Dmax of the runs. */
  readonly dmax: number;
  readonly runs: number;
  /** Whether per-position depth curves are kept (a job's "depthCurves"). */
  readonly depthCurves: boolean;
  /** Hidden size H (default 128). */
  readonly hidden?: number;
}

/** Bytes the store takes for `runs` runs of the same τ count and Dmax holding `positions` positions in all. */
export function estimateStoreBytes(content: StoreContent): number {
  const { positions, taus, dmax, runs, depthCurves } = content;
  const H = content.hidden ?? 128;
  const b = STORE_BYTES;
  // Σ over a run's positions of min(t, Dmax) + 1 offsets = P·(Dmax+1) - Dmax·(Dmax+1)/2 when P > Dmax.
  const depthRows = depthCurves ? Math.max(positions, positions * (dmax + 1) - (runs * dmax * (dmax + 1)) / 2) : 0;
  return (
    positions * (b.perPositionRow + taus * b.perCountsRow) +
    depthRows * b.perDepthRow +
    runs * (b.shardsPerRun * (dmax + 1) * b.perShardDepthRow + (H + 96) * (4 * H + b.perPeakRowOverhead) + b.perRun)
  );
}

/** Bytes a database file uses now (its pages less the free ones), read from its pragmas. */
export function databaseBytes(db: Db): number {
  const pageSize = db.pragma('page_size', { simple: true }) as number;
  const pages = db.pragma('page_count', { simple: true }) as number;
  const free = db.pragma('freelist_count', { simple: true }) as number;
  return (pages - free) * pageSize;
}

/**
 * CPU seconds this machine takes to write one byte of results, measured by
 * inserting rows shaped like `counts` rows in WAL mode into a temporary
 * database (removed afterwards), in transactions the size of a shard.
 */
export function calibrateStoreWrites(rows = 40_000): number {
  const folder = mkdtempSync(join(tmpdir(), 'sparsetrace-calibrate-'));
  try {
    const db = new Database(join(folder, 'calibrate.sqlite'));
    try {
      db.pragma('journal_mode = WAL');
      db.pragma('synchronous = NORMAL');
      db.exec('CREATE TABLE sample (run_id TEXT, tau REAL, t INTEGER, a INTEGER, b INTEGER, c INTEGER, PRIMARY KEY (run_id, tau, t)) WITHOUT ROWID');
      const insert = db.prepare('INSERT INTO sample VALUES (?, ?, ?, ?, ?, ?)');
      const perTransaction = 4_000;
      const write = db.transaction((from: number) => {
        for (let k = from; k < from + perTransaction; k++) insert.run('0123456789abcdef', 10 ** -(k % 17), k, k % 3000, k % 17000, k % 128);
      });
      const cpu = (): number => {
        const usage = process.cpuUsage();
        return (usage.user + usage.system) / 1e6;
      };
      const began = cpu();
      for (let from = 0; from < rows; from += perTransaction) write(from);
      const seconds = cpu() - began;
      return seconds / (rows * STORE_BYTES.perCountsRow);
    } finally {
      db.close();
    }
  } finally {
    rmSync(folder, { recursive: true, force: true });
  }
}
