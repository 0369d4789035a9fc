import Database from 'better-sqlite3';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cpuSeconds } from '../cpu.js';
import type { Db } from './db.js';

/**
 * What the store takes on disk, as a per-row model of schema 4 (store/schema.ts):
 * per position one `position_rows` row; per position and τ its share of a
 * `count_blocks` row (three code point arrays) and of its run's histogram in
 * `run_tau_stats`; per shard and offset one `shard_depth` row; per position and
 * offset one `depth_rows` row only when the run keeps depth curves; per run one
 * `pattern_peak_rows` BLOB of H float32 for each byte a window uses in Wx and Wy,
 * and one of H² for Wh. A run kept as `summaries` keeps only its histograms, its
 * depth profile and its patterns active at τ = 0.01 (`run_page_patterns`).
 *
 * Measured with SQLite's dbstat (pages of each table and its index ÷ its rows)
 * on jobs/example-sweep.json (112 runs, 111,504 positions, 17 τ, Dmax 20 and 50,
 * no depth curves): 43.2 MB, 388 B/position. count_blocks 15.7 MB = 8.3 B per
 * position and τ; run_tau_stats 7.5 MB = 4.0 B per position and τ;
 * position_rows 3.96 MB = 35.5 B per position; shard_depth 0.14 MB / 4,698
 * rows = 29 B; pattern_peak_rows 13.9 MB = 123 kB per run (97 rows: 48 of Wx, 48
 * of Wy, Wh), the size of H + 96 rows of H float32 and 35 bytes each; the
 * cohorts' rollups 1.5 MB (2 cohorts). Kept as summaries: 10.6 MB, 95 B/position,
 * of which run_page_patterns 1.1 MB = 9.8 kB per run. The Q1 job with depth
 * curves: depth_rows 21.3 B per row. (Schema 1, sparsetrace 0.1.0, took 3,458
 * B/position on the example sweep; schema 2 634; schema 3 392.) Schema 7 adds
 * the activation frequencies at τ = 0.01 (`pattern_frequency_rows`), kept by
 * `full` and `summaries` runs alike: 6.45 MB = 57.6 kB per run (224 rows: 96 of
 * Wx and Wy, 128 of Wh), H counts of 2 bytes and about 1 byte more per row,
 * 58 B/position on the example sweep (388 → 446 full, 95 → 153 summaries). Schema 9
 * keeps the histograms as steps (run_tau_stats 3.61 MB = 1.9 B per position and τ,
 * two rows a page) and a summaries run's frequencies only in its cohorts' sums
 * (cohort_frequency_rows: 0.42 MB for 4 cohorts, about two runs' rows each): 45.9 MB
 * full, 412 B/position; 6.8 MB, 61 B/position as summaries. When the store
 * changes, measure again and replace these; `plan` prefers the bytes per
 * position measured on the target database when it holds finished runs.
 */
export const STORE_BYTES = {
  /** Per position and τ: its counts in a `count_blocks` row and its share of its run's histogram in `run_tau_stats`. */
  perCountsRow: 8.3 + 1.9,
  /** Per position and τ of a run kept as summaries: its share of the histogram. */
  perSummaryRow: 1.9,
  /** A `depth_rows` row: a position at one offset d ≤ min(t, Dmax), only with depth curves. */
  perDepthRow: 21.3,
  /** A `position_rows` row. */
  perPositionRow: 35.5,
  /** A `shard_depth` row: a shard at one offset. */
  perShardDepthRow: 29,
  /** Shards per run: shards are up to 1024 positions, finer in a job's last runs (runner/plan.ts). */
  shardsPerRun: 2,
  /** A `pattern_peak_rows` row is H float32 and about this much more; a run has about as much as H + 96 of them (Wh, and Wx/Wy for the ~48 bytes a window uses). */
  perPeakRowOverhead: 35,
  /** What a run kept as summaries keeps of its peaks: its `run_page_patterns` rows. */
  perSummaryRun: 9800,
  /** A `pattern_frequency_rows` row is H counts of this many bytes (most above 126: two) and about this much more; a run has about H + 96 of them. */
  perFrequencyCount: 2,
  perFrequencyRowOverhead: 1,
  /** A cohort's summed frequencies take about this many runs' rows (wider counts); runs kept as summaries keep only those. */
  cohortFrequencyRuns: 2,
  /** A run's own rows (runs, run_taus, job_runs, shards, run_depth, run_overview: about 0.3 KB at 7 τ), roughly. */
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
  /** What finished runs keep (default 'full'). */
  readonly keep?: 'full' | 'summaries';
  /** The runs' burn-in (default 0): a position t has min(t + burn-in, Dmax) + 1 offsets. */
  readonly burnIn?: number;
}

/** Bytes the store takes for `runs` runs of the same τ count and Dmax holding `positions` positions in all. */
export function estimateStoreBytes(content: StoreContent): number {
  const { positions, taus, dmax, runs, depthCurves } = content;
  const H = content.hidden ?? 128;
  const b = STORE_BYTES;
  const frequencyOfRun = (H + 96) * (H * b.perFrequencyCount + b.perFrequencyRowOverhead);
  const frequency = runs * frequencyOfRun;
  // A summaries run's frequencies are in its cohort's sums only (one cohort: the runs of one Dmax, here).
  if (content.keep === 'summaries') return positions * taus * b.perSummaryRow + runs * (b.perSummaryRun + b.perRun) + b.cohortFrequencyRuns * frequencyOfRun;
  // Σ over a run's positions of min(t + B, Dmax) + 1 offsets = P·(Dmax+1) - r·(r+1)/2 with r = max(0, Dmax - B), when P > r.
  const ramp = Math.max(0, dmax - (content.burnIn ?? 0));
  const depthRows = depthCurves ? Math.max(positions, positions * (dmax + 1) - (runs * ramp * (ramp + 1)) / 2) : 0;
  return (
    positions * (b.perPositionRow + taus * b.perCountsRow) +
    depthRows * b.perDepthRow +
    runs * (b.shardsPerRun * (dmax + 1) * b.perShardDepthRow + (H + 96) * (4 * H + b.perPeakRowOverhead) + b.perRun) +
    frequency
  );
}

/** Bytes a database file uses now (its pages less the free ones), read from its pragmas. */
export function databaseUsedBytes(db: Db): number {
  const pageSize = db.pragma('page_size', { simple: true }) as number;
  const pages = db.pragma('page_count', { simple: true }) as number;
  const free = db.pragma('freelist_count', { simple: true }) as number;
  return (pages - free) * pageSize;
}

/**
 * CPU seconds this machine takes to write one byte of results, measured by
 * writing what the writer writes per shard into a temporary database in WAL mode
 * (removed afterwards): 1,024 `position_rows`-shaped rows, 64 per statement, and
 * 7 count blocks of 1,024 positions, one transaction per shard.
 */
export function calibrateStoreWrites(shards = 40): number {
  const POSITIONS = 1024;
  const TAUS = 7;
  const folder = mkdtempSync(join(tmpdir(), 'sparsetrace-calibrate-'));
  try {
    const db = new Database(join(folder, 'calibrate.sqlite'));
    try {
      db.pragma('journal_mode = WAL');
      db.pragma('synchronous = NORMAL');
      db.exec(`CREATE TABLE positions (run INTEGER, t INTEGER, y INTEGER, bits REAL, mass REAL, peak INTEGER, PRIMARY KEY (run, t)) WITHOUT ROWID;
               CREATE TABLE blocks (run INTEGER, tau INTEGER, start INTEGER, count INTEGER, counts BLOB, PRIMARY KEY (run, tau, start)) WITHOUT ROWID`);
      const rowsPerStatement = 64;
      const insertPositions = db.prepare(`INSERT INTO positions VALUES ${Array(rowsPerStatement).fill('(?, ?, ?, ?, ?, ?)').join(', ')}`);
      const insertBlock = db.prepare('INSERT INTO blocks VALUES (?, ?, ?, ?, ?)');
      const counts = Buffer.from(Uint16Array.from({ length: 3 * POSITIONS }, (_, k) => (k * 7919) % 3000).buffer);
      const write = db.transaction((shard: number) => {
        const start = shard * POSITIONS;
        for (let from = start; from < start + POSITIONS; from += rowsPerStatement) {
          const values: number[] = [];
          for (let t = from; t < from + rowsPerStatement; t++) values.push(1, t, t % 256, 1 / (t + 1), 2 / (t + 3), t % 50);
          insertPositions.run(values);
        }
        for (let tau = 0; tau < TAUS; tau++) insertBlock.run(1, tau, start, POSITIONS, counts);
      });
      const began = cpuSeconds();
      for (let shard = 0; shard < shards; shard++) write(shard);
      const seconds = cpuSeconds() - began;
      return seconds / (shards * POSITIONS * (STORE_BYTES.perPositionRow + TAUS * STORE_BYTES.perCountsRow));
    } finally {
      db.close();
    }
  } finally {
    rmSync(folder, { recursive: true, force: true });
  }
}
