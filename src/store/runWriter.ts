import { patternPeakRows, RangeView, type PatternPeaks, type RangeResult, type RangeSummary } from '../engine/index.js';
import { BulkInsert } from './bulk.js';
import { blobOf, floats } from './functions.js';
import type { Db } from './db.js';
import { now } from './record.js';
import { RUN_DEPTH_SELECT, TAU_STATS_SELECT } from './summaries.js';

export interface CommittedRange {
  readonly start: number;
  readonly count: number;
}

/** What a worker hands back for one shard. */
export interface ShardResult {
  /** Its positions; `depthMass` is only read when the run keeps depth curves. */
  readonly range: RangeResult;
  readonly summary: RangeSummary;
  /** Peak attributions of every pattern over the shard's positions. */
  readonly peaks: PatternPeaks;
  /** Worker time. */
  readonly seconds: number;
}

/** The run a writer writes: what it needs to lay out the engine's results. */
export interface RunShape {
  readonly runId: string;
  readonly hidden: number;
  readonly thresholdCount: number;
  readonly dmax: number;
  /** Pattern peaks from merged peak factors: for a run that 0.1.0 left unfinished (see migrate.ts). */
  readonly peaksFromFactors?: (factors: Float32Array) => PatternPeaks;
}

export interface ResumeState {
  readonly status: 'pending' | 'running' | 'done';
  /** Ranges of positions committed so far, ascending. */
  readonly committed: readonly CommittedRange[];
  /** Positions committed so far. */
  readonly done: number;
}

/**
 * Writes one run: `commit()` one shard per transaction (positions, counts at
 * every τ, the shard with its depth and surprisal sums, the run's merged pattern
 * peaks), then `finish()` (summaries by SQL and status `done`). Statements are
 * prepared once per writer; the run's key, τ count and Dmax are fixed.
 */
export class RunWriter {
  readonly runKey: number;
  /** Whether the run keeps every position's depth curve (set when it was recorded). */
  readonly depthCurves: boolean;
  private readonly positions: BulkInsert;
  private readonly counts: BulkInsert;
  private readonly depthRows: BulkInsert;
  private readonly shardDepth: BulkInsert;
  private readonly statements;
  /** The run's merged peak rows, keyed `class:row` (loaded from the store on first use). */
  private peakRows: Map<string, Float32Array> | undefined;

  constructor(
    private readonly db: Db,
    private readonly shape: RunShape,
  ) {
    const run = db.prepare(`SELECT run_key, depth_curves FROM runs WHERE run_id = ?`).get(shape.runId) as { run_key: number; depth_curves: number } | undefined;
    if (run === undefined) throw new Error(`run ${shape.runId} is not recorded in the database`);
    this.runKey = run.run_key;
    this.depthCurves = run.depth_curves === 1;
    this.positions = new BulkInsert(db, 'position_rows', ['run_key', 't', 'y', 'surprisal_bits', 'mass_total', 'peak_d']);
    this.counts = new BulkInsert(db, 'count_rows', ['run_key', 'tau_index', 't', 'n_x', 'n_h', 'n_y']);
    this.depthRows = new BulkInsert(db, 'depth_rows', ['run_key', 'd', 't', 'mass']);
    this.shardDepth = new BulkInsert(db, 'shard_depth', ['run_key', 'start', 'd', 'positions', 'mass_sum', 'mass_err']);
    this.statements = {
      status: db.prepare(`SELECT status FROM runs WHERE run_key = ?`).pluck(),
      committed: db.prepare(`SELECT start, count FROM shards WHERE run_key = ? ORDER BY start`),
      peakRows: db.prepare(`SELECT class, row, peaks FROM pattern_peak_rows WHERE run_key = ?`),
      legacyFactors: db.prepare(`SELECT legacy_peak_factors FROM runs WHERE run_key = ? AND legacy_peak_factors IS NOT NULL`).pluck(),
      clearLegacyFactors: db.prepare(`UPDATE runs SET legacy_peak_factors = NULL WHERE run_key = ?`),
      insertShard: db.prepare(
        `INSERT INTO shards (run_key, start, count, seconds, committed_at, surprisal_sum, surprisal_err) VALUES (?, ?, ?, ?, ?, ?, ?)`,
      ),
      upsertPeakRow: db.prepare(
        `INSERT INTO pattern_peak_rows (run_key, class, row, peaks) VALUES (?, ?, ?, ?)
         ON CONFLICT (run_key, class, row) DO UPDATE SET peaks = excluded.peaks`,
      ),
      updateRun: db.prepare(
        `UPDATE runs SET compute_seconds = compute_seconds + ?, status = 'running', started_at = coalesce(started_at, ?) WHERE run_key = ?`,
      ),
      deleteStats: db.prepare(`DELETE FROM run_tau_stats WHERE run_key = ?`),
      deleteDepth: db.prepare(`DELETE FROM run_depth WHERE run_key = ?`),
      insertDepth: db.prepare(`INSERT INTO run_depth ${RUN_DEPTH_SELECT('run_key = ?')}`),
      insertStats: db.prepare(`INSERT INTO run_tau_stats ${TAU_STATS_SELECT('run_key = ?')}`),
      markDone: db.prepare(`UPDATE runs SET status = 'done', finished_at = ? WHERE run_key = ?`),
    };
  }

  /** Where the run stands in the store: what a resumed run skips. */
  resumeState(): ResumeState {
    const status = this.statements.status.get(this.runKey) as ResumeState['status'];
    const committed = this.statements.committed.all(this.runKey) as CommittedRange[];
    return { status, committed, done: committed.reduce((sum, range) => sum + range.count, 0) };
  }

  /** Writes one shard in one transaction: a kill leaves all of it or none. */
  commit(shard: ShardResult): void {
    this.db.transaction(() => this.writeShard(shard)).immediate();
  }

  private writeShard({ range, summary, peaks, seconds }: ShardResult): void {
    const { runKey, shape } = this;
    const view = new RangeView(range, shape.thresholdCount, shape.dmax);
    for (let p = 0; p < view.count; p++) {
      const peakD = summary.peakDepth[p];
      this.positions.add(runKey, view.t(p), range.targets[p], range.surprisal[p], summary.massTotal[p], peakD < 0 ? null : peakD);
    }
    for (let k = 0; k < shape.thresholdCount; k++) {
      for (let p = 0; p < view.count; p++) this.counts.add(runKey, k, view.t(p), view.nx(p, k), view.nh(p, k), view.ny(p, k));
    }
    if (this.depthCurves) {
      for (let p = 0; p < view.count; p++) {
        for (let d = 0; d <= view.deepest(p); d++) this.depthRows.add(runKey, d, view.t(p), view.depthMass(p, d));
      }
    }
    const stamp = now();
    this.statements.insertShard.run(runKey, range.start, range.count, seconds, stamp, summary.surprisalSum[0], summary.surprisalSum[1]);
    summary.depthPositions.forEach((positions, d) => {
      if (positions > 0) this.shardDepth.add(runKey, range.start, d, positions, summary.depthSums[2 * d], summary.depthSums[2 * d + 1]);
    });
    for (const bulk of [this.positions, this.counts, this.depthRows, this.shardDepth]) bulk.flush();
    this.mergePeaks(peaks);
    this.statements.updateRun.run(seconds, stamp, runKey);
  }

  /** Merges a shard's peaks into the run's rows and rewrites the rows that grew. */
  private mergePeaks(peaks: PatternPeaks): void {
    const merged = this.mergedPeakRows();
    for (const { cls, row, peaks: values } of patternPeakRows(peaks, this.shape.hidden)) {
      const key = `${cls}:${row}`;
      let current = merged.get(key);
      let grew = false;
      for (let j = 0; j < values.length; j++) {
        if (values[j] > (current?.[j] ?? 0)) {
          current ??= new Float32Array(values.length);
          current[j] = values[j];
          grew = true;
        }
      }
      if (!grew || current === undefined) continue;
      merged.set(key, current);
      this.statements.upsertPeakRow.run(this.runKey, cls, row, blobOf(current));
    }
  }

  /** Within a transaction: the merged rows, after folding in a 0.1.0 run's peak factors once. */
  private mergedPeakRows(): Map<string, Float32Array> {
    if (this.peakRows === undefined) {
      const stored = this.statements.peakRows.all(this.runKey) as { class: string; row: number; peaks: Buffer }[];
      this.peakRows = new Map(stored.map((row) => [`${row.class}:${row.row}`, floats(row.peaks)]));
      const legacy = this.statements.legacyFactors.get(this.runKey) as Buffer | undefined;
      if (legacy !== undefined) {
        if (this.shape.peaksFromFactors === undefined) throw new Error(`run ${this.shape.runId}: its 0.1.0 peak factors need the model`);
        this.mergePeaks(this.shape.peaksFromFactors(floats(legacy)));
        this.statements.clearLegacyFactors.run(this.runKey);
      }
    }
    return this.peakRows;
  }

  /**
   * Completes the run: its per-τ summaries, computed by SQL from its rows, and
   * status `done`, in one transaction. Idempotent, so a run killed between its
   * last shard and this step finishes on resume.
   */
  finish(): void {
    const { runKey, statements } = this;
    this.db
      .transaction(() => {
        this.mergedPeakRows();
        statements.deleteStats.run(runKey);
        statements.insertStats.run(runKey);
        statements.deleteDepth.run(runKey);
        statements.insertDepth.run(runKey);
        statements.markDone.run(now(), runKey);
      })
      .immediate();
  }
}
