import Database from 'better-sqlite3';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Db } from './db.js';

/**
 * What the store takes on disk, as a per-row model of today's schema (schema
 * version 1: one row per position and τ in `counts`, one per position and
 * offset in `depth_mass`, one per position in `positions`, and per run every
 * pattern's peak in `pattern_peaks`).
 *
 * The constants were measured with SQLite's dbstat on two finished databases
 * (pages of each table and its index ÷ its rows):
 * - jobs/example-sweep.json (112 runs, 111,504 positions, 17 τ, Dmax 20 and 50):
 *   385.6 MB, 3,458 B/position. counts 88.3 MB / 1,895,568 rows = 46.6 B;
 *   depth_mass 160.1 MB / 3,930,984 rows = 40.7 B; positions 4.46 MB / 111,504
 *   rows = 40 B; pattern_peaks 132.2 MB / 3,213,568 rows = 41.1 B, 28,693 rows
 *   (1.18 MB) per run.
 * - the Q1 job (1 run, 1,023 positions, 7 τ, Dmax 50): 3.97 MB, 3,880 B/position.
 *
 * These are schema 1 (0.1.0) figures. The store is being rewritten (issue #8: compact tables, ≤ 700 B/position on
 * the example sweep by default, an optional per-position depth curve): replace
 * these constants with the new store's when it lands. `plan` prefers the bytes
 * per position measured on the target database when it holds finished runs.
 */
export const STORE_BYTES = {
  /** One `counts` row: a position at one τ. */
  perCountsRow: 46.6,
  /** One `depth_mass` row: a position at one offset d ≤ min(t, Dmax). */
  perDepthRow: 40.7,
  /** One `positions` row. */
  perPositionRow: 40,
  /** One `pattern_peaks` row; a run stores about H² + 96·H of them (Wh, and Wx/Wy for the ~48 bytes a window uses). */
  perPeakRow: 41.1,
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
  /** Whether per-position depth curves are stored (schema 1 always stored them; schema 2 only with "depthCurves"). */
  readonly depthCurves: boolean;
  /** Hidden size H (default 128). */
  readonly hidden?: number;
}

/** Bytes the store takes for `runs` runs of the same τ count and Dmax holding `positions` positions in all. */
export function estimateStoreBytes(content: StoreContent): number {
  const { positions, taus, dmax, runs, depthCurves } = content;
  const H = content.hidden ?? 128;
  // Σ over a run's positions of min(t, Dmax) + 1 offsets = P·(Dmax+1) - Dmax·(Dmax+1)/2 when P > Dmax.
  const depthRows = depthCurves ? Math.max(positions, positions * (dmax + 1) - (runs * dmax * (dmax + 1)) / 2) : 0;
  return (
    positions * (STORE_BYTES.perPositionRow + taus * STORE_BYTES.perCountsRow) +
    depthRows * STORE_BYTES.perDepthRow +
    runs * ((H * H + 96 * H) * STORE_BYTES.perPeakRow + STORE_BYTES.perRun)
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
