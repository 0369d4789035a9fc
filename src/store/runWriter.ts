import {
  emptyPatternPeaks,
  firstPatternPeakRows,
  mergePatternPeakRows,
  RangeView,
  setPatternPeakRow,
  type PatternClass,
  type PatternPeakRow,
  type PatternPeaks,
  type RangeResult,
  type RangeSummary,
} from '../engine/index.js';
import { BulkInsert } from './bulk.js';
import { blobOf, floats } from './functions.js';
import type { Db } from './db.js';
import { RunFrequencies } from './frequency.js';
import { dropPositionRows } from './retention.js';
import { now } from './record.js';
import { RUN_DEPTH_SELECT } from './summaries.js';
import { activeByRank, activeOfPeaks, sortedThresholds } from './levels.js';
import { runLevels, runRollupRows } from './rollups.js';
import { finishedRunCohorts, holdFinishedRun, PEAK_ROW_SLOTS, peakRowSlot, type FinishedRun } from './heldRollups.js';
import { tauStatsOfRun } from './tauStats.js';
import { shardRowsOf, type ShardRows } from './shardRows.js';
import { RunSummaries } from './runSummaries.js';
import { writeRunOverview } from './overview.js';

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
  /** Its rows, made beforehand (a worker thread's: ShardRows); made by the writer when absent. */
  readonly rows?: ShardRows;
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

/** The writer's statements, prepared once per connection and shared by the runs it writes one after another. */
function prepareWriterStatements(db: Db) {
  return {
    positions: new BulkInsert(db, 'position_rows', ['run_key', 't', 'y', 'surprisal_bits', 'mass_total', 'peak_d']),
    depthRows: new BulkInsert(db, 'depth_rows', ['run_key', 'd', 't', 'mass']),
    shardDepth: new BulkInsert(db, 'shard_depth', ['run_key', 'start', 'd', 'positions', 'mass_sum', 'mass_err']),
    run: db.prepare(`SELECT run_key, depth_curves, keep FROM runs WHERE run_id = ?`),
    status: db.prepare(`SELECT status FROM runs WHERE run_key = ?`).pluck(),
    committed: db.prepare(`SELECT start, count FROM shards WHERE run_key = ? ORDER BY start`),
    storedPeakRows: db.prepare(`SELECT class, row, peaks FROM pattern_peak_rows WHERE run_key = ?`),
    legacyFactors: db.prepare(`SELECT legacy_peak_factors FROM runs WHERE run_key = ? AND legacy_peak_factors IS NOT NULL`).pluck(),
    clearLegacyFactors: db.prepare(`UPDATE runs SET legacy_peak_factors = NULL WHERE run_key = ?`),
    insertShard: db.prepare(
      `INSERT INTO shards (run_key, start, count, seconds, committed_at, surprisal_sum, surprisal_err) VALUES (?, ?, ?, ?, ?, ?, ?)`,
    ),
    countBlocks: new BulkInsert(db, 'count_blocks', ['run_key', 'tau_index', 'start', 'count', 'n_x', 'n_h', 'n_y']),
    shardCount: db.prepare(`SELECT count(*) FROM shards WHERE run_key = ?`).pluck(),
    peakRows: new BulkInsert(db, 'pattern_peak_rows', ['run_key', 'class', 'row', 'peaks'], 64, 'ON CONFLICT (run_key, class, row) DO UPDATE SET peaks = excluded.peaks'),
    updateRun: db.prepare(
      `UPDATE runs SET compute_seconds = compute_seconds + ?, status = 'running', started_at = coalesce(started_at, ?) WHERE run_key = ?`,
    ),
    deleteStats: db.prepare(`DELETE FROM run_tau_stats WHERE run_key = ?`),
    deleteDepth: db.prepare(`DELETE FROM run_depth WHERE run_key = ?`),
    insertDepth: db.prepare(`INSERT INTO run_depth ${RUN_DEPTH_SELECT('run_key = ?')}`),
    insertStats: db.prepare(
      `INSERT INTO run_tau_stats (run_key, tau_index, positions, sum_x, sum_h, sum_y, min_n, median_n, max_n, distinct_n, hist_steps, hist_large, hist_positions,
         active_x, active_h, active_y)
       VALUES (@run_key, @tau_index, @positions, @sum_x, @sum_h, @sum_y, @min_n, @median_n, @max_n, @distinct_n, @hist_steps, @hist_large, @hist_positions,
         @active_x, @active_h, @active_y)`,
    ),
    taus: db.prepare(`SELECT tau_index, tau_f32 FROM run_taus WHERE run_key = ?`),
    markDone: db.prepare(`UPDATE runs SET status = 'done', finished_at = ? WHERE run_key = ?`),
  };
}

type WriterStatements = ReturnType<typeof prepareWriterStatements>;
const writerStatements = new WeakMap<Db, WriterStatements>();

function statementsOf(db: Db): WriterStatements {
  let statements = writerStatements.get(db);
  if (statements === undefined) {
    statements = prepareWriterStatements(db);
    writerStatements.set(db, statements);
  }
  return statements;
}

/**
 * Writes one run: `commit()` one shard per transaction (positions, the shard with
 * its depth and surprisal sums, one count block per τ, the run's merged pattern
 * peaks), then `finish()` (summaries and status `done`). Statements are
 * prepared once per connection; the run's key, τ count and Dmax are fixed.
 */
export class RunWriter {
  readonly runKey: number;
  /** Whether the run keeps every position's depth curve (set when it was recorded). */
  readonly depthCurves: boolean;
  /** Whether the run drops its per-position rows once done, keeping its summaries (set when it was recorded). */
  readonly keepSummariesOnly: boolean;
  private readonly statements: WriterStatements;
  /** The run's merged pattern peaks (loaded from the store on first use; null: none stored, all zeros, not made). */
  private peaks: PatternPeaks | null | undefined;
  /** Which of the run's peak rows are stored (PEAK_ROW_SLOTS, heldRollups.ts), with `peaks`. */
  private peakRows: Uint8Array | undefined;
  /** What its finishing transaction leaves for the rollups to take from memory once it commits (heldRollups.ts). */
  private finishedRun: FinishedRun | undefined;
  /** The run's activation frequencies, summed over its committed shards. */
  private readonly frequencies: RunFrequencies;
  /**
   * The run's summaries added up from its shards' rows as they are committed, when
   * this writer committed every shard of the run (null once it finds one it did
   * not: a resumed run's, or after a failed commit); finish() reads the count
   * blocks otherwise. Undefined before the first commit.
   */
  private summaries: RunSummaries | null | undefined;
  /** Finished by this writer (finish() has nothing left to do). */
  private done = false;

  constructor(
    private readonly db: Db,
    private readonly shape: RunShape,
  ) {
    this.statements = statementsOf(db);
    const run = this.statements.run.get(shape.runId) as { run_key: number; depth_curves: number; keep: string } | undefined;
    if (run === undefined) throw new Error(`run ${shape.runId} is not recorded in the database`);
    this.runKey = run.run_key;
    this.depthCurves = run.depth_curves === 1;
    this.keepSummariesOnly = run.keep === 'summaries';
    this.frequencies = new RunFrequencies(db, this.runKey, shape.hidden);
  }

  /** Where the run stands in the store: what a resumed run skips. */
  resumeState(): ResumeState {
    const status = this.statements.status.get(this.runKey) as ResumeState['status'];
    const committed = this.statements.committed.all(this.runKey) as CommittedRange[];
    return { status, committed, done: committed.reduce((sum, range) => sum + range.count, 0) };
  }

  /**
   * Writes one shard in one transaction: a kill leaves all of it or none. Its rows
   * come made (`shard.rows`, a worker's), so the writer only inserts them; what it
   * keeps of the run (peaks, frequency sums, summaries) is forgotten if the
   * transaction fails, and read from the store again. `last`: no other shard of
   * the run is left, so the same transaction finishes it (finish()), and a kill
   * leaves the run without this shard or done; one transaction instead of two,
   * and a run of one shard writes no frequency rows in progress. Nothing of
   * `shard` is read once commit() returns: its arrays may be views on a buffer
   * that takes the next shard (resultSlots.ts), so what the writer keeps, it copies.
   */
  commit(shard: ShardResult, last = false): void {
    const { shape } = this;
    const rows = shard.rows ?? shardRowsOf(shard.range, shape.thresholdCount, shape.dmax, shape.hidden);
    try {
      this.db
        .transaction(() => {
          this.writeShard(shard, rows, last);
          if (last) this.finishRun();
        })
        .immediate();
    } catch (error) {
      this.forget();
      throw error;
    }
    if (last) this.finished();
  }

  /** Drops what the writer keeps of the run, so the store's rows are read again (and no summaries are added up here). */
  private forget(): void {
    const { positions, depthRows, shardDepth, countBlocks, peakRows } = this.statements;
    for (const bulk of [positions, depthRows, shardDepth, countBlocks, peakRows]) bulk.discard();
    this.peaks = undefined;
    this.peakRows = undefined;
    this.finishedRun = undefined;
    this.frequencies.release();
    this.summaries = null;
  }

  private writeShard({ range, summary, peaks, seconds }: ShardResult, rows: ShardRows, last: boolean): void {
    const { runKey, shape, statements } = this;
    if (rows.counts.length !== shape.thresholdCount) throw new RangeError(`a shard of run ${shape.runId} with counts at ${rows.counts.length} τ, expected ${shape.thresholdCount}`);
    // The summaries are added up here only if no shard of the run was committed before this writer's first.
    if (this.summaries === undefined) this.summaries = (statements.shardCount.get(runKey) as number) === 0 ? new RunSummaries(shape.thresholdCount) : null;
    const view = new RangeView(range, shape.thresholdCount, shape.dmax);
    for (let p = 0; p < view.count; p++) {
      const peakD = summary.peakDepth[p];
      statements.positions.add(runKey, view.t(p), range.targets[p], range.surprisal[p], summary.massTotal[p], peakD < 0 ? null : peakD);
    }
    if (this.depthCurves) {
      for (let p = 0; p < view.count; p++) {
        for (let d = 0; d <= view.deepest(p); d++) statements.depthRows.add(runKey, d, view.t(p), view.depthMass(p, d));
      }
    }
    // Before the shard's row: a run with shards but no frequencies began before they were kept.
    this.frequencies.addShard(range.frequency, rows.frequencies, range.start, range.count, last);
    const stamp = now();
    statements.insertShard.run(runKey, range.start, range.count, seconds, stamp, summary.surprisalSum[0], summary.surprisalSum[1]);
    for (let k = 0; k < rows.counts.length; k++) {
      const { block } = rows.counts[k];
      statements.countBlocks.add(runKey, k, range.start, range.count, block.n_x, block.n_h, block.n_y);
    }
    for (let d = 0; d < summary.depthPositions.length; d++) {
      const positions = summary.depthPositions[d];
      if (positions > 0) statements.shardDepth.add(runKey, range.start, d, positions, summary.depthSums[2 * d], summary.depthSums[2 * d + 1]);
    }
    for (const bulk of [statements.positions, statements.depthRows, statements.countBlocks, statements.shardDepth]) bulk.flush();
    this.mergePeaks(peaks, last);
    statements.updateRun.run(seconds, stamp, runKey);
    this.summaries?.add(rows.counts);
  }

  /**
   * Merges a shard's peaks into the run's and rewrites the stored rows that grew.
   * Into a run with none stored, the shard's peaks are the run's (firstPatternPeakRows):
   * held as they are when it is the run's last shard (only read within its commit()), else copied.
   */
  private mergePeaks(peaks: PatternPeaks, last: boolean): void {
    if (this.loadedPeaks() === null) {
      const rows = firstPatternPeakRows(peaks, this.shape.hidden);
      if (rows !== undefined) {
        this.peaks = last ? peaks : { wx: peaks.wx.slice(), wh: peaks.wh.slice(), wy: peaks.wy.slice() };
        this.writePeakRows(rows);
        return;
      }
    }
    this.writePeakRows(mergePatternPeakRows(this.mergedPeaks(), peaks, this.shape.hidden));
  }

  /** Writes rows of the run's merged peaks (their values are read before anything merges into the peaks again). */
  private writePeakRows(rows: readonly PatternPeakRow[]): void {
    const { peakRows } = this.statements;
    const stored = this.peakRows as Uint8Array;
    for (const { cls, row, peaks: values } of rows) {
      peakRows.add(this.runKey, cls, row, blobOf(values));
      stored[peakRowSlot(cls, row)] = 1;
    }
    peakRows.flush();
  }

  /** Within a transaction: the run's merged peaks, made all zeros if none are stored. */
  private mergedPeaks(): PatternPeaks {
    const loaded = this.loadedPeaks();
    if (loaded !== null) return loaded;
    this.peaks = emptyPatternPeaks(this.shape.hidden);
    return this.peaks;
  }

  /** Within a transaction: the run's merged peaks as stored, after folding in a 0.1.0 run's peak factors once; null when none are stored. */
  private loadedPeaks(): PatternPeaks | null {
    if (this.peaks === undefined) {
      const { hidden } = this.shape;
      let merged: PatternPeaks | null = null;
      const storedRows = new Uint8Array(PEAK_ROW_SLOTS);
      for (const stored of this.statements.storedPeakRows.all(this.runKey) as { class: PatternClass; row: number; peaks: Buffer }[]) {
        merged ??= emptyPatternPeaks(hidden);
        setPatternPeakRow(merged, hidden, { cls: stored.class, row: stored.row, peaks: floats(stored.peaks) });
        storedRows[peakRowSlot(stored.class, stored.row)] = 1;
      }
      this.peaks = merged;
      this.peakRows = storedRows;
      const legacy = this.statements.legacyFactors.get(this.runKey) as Buffer | undefined;
      if (legacy !== undefined) {
        if (this.shape.peaksFromFactors === undefined) throw new Error(`run ${this.shape.runId}: its 0.1.0 peak factors need the model`);
        this.writePeakRows(mergePatternPeakRows(this.mergedPeaks(), this.shape.peaksFromFactors(floats(legacy)), hidden));
        this.statements.clearLegacyFactors.run(this.runKey);
      }
    }
    return this.peaks;
  }

  /**
   * Completes the run: its per-τ summaries, added up as its shards were
   * committed or else computed from its count blocks, its depth profile, and
   * status `done`, in one transaction; a run kept as `summaries` drops its
   * per-position rows in the same transaction. Idempotent, so a run killed
   * between its last shard and this step finishes on resume; nothing to do once
   * its last shard finished it (commit's `last`).
   */
  finish(): void {
    if (this.done) return;
    try {
      this.db.transaction(() => this.finishRun()).immediate();
    } catch (error) {
      this.finishedRun = undefined;
      throw error;
    }
    this.finished();
  }

  /** finish()'s work, in the caller's transaction. */
  private finishRun(): void {
    const { runKey, statements } = this;
    this.finishedRun = undefined;
    // Done already (a summaries run has no count blocks left to summarize again).
    if (statements.status.get(runKey) === 'done') return;
    const peaks = this.mergedPeaks();
    statements.deleteStats.run(runKey);
    // Patterns active somewhere in the run, per τ: from the levels of its peaks (held here: the stored rows are them).
    const taus = statements.taus.all(runKey) as { tau_index: number; tau_f32: number }[];
    const thresholds = sortedThresholds(taus.map((row) => row.tau_f32));
    const storedRows = this.peakRows as Uint8Array;
    const active = activeOfPeaks(peaks, thresholds, (cls, row) => storedRows[peakRowSlot(cls, row)] === 1) ?? activeByRank(runLevels(this.db, runKey).levels, thresholds.length);
    const rankOf = new Map(taus.map((row) => [row.tau_index, thresholds.indexOf(row.tau_f32)]));
    for (const stats of this.summaries?.stats() ?? tauStatsOfRun(this.db, runKey)) {
      const rank = rankOf.get(stats.tau_index) as number;
      statements.insertStats.run({ run_key: runKey, ...stats, active_x: active.wx[rank], active_h: active.wh[rank], active_y: active.wy[rank] });
    }
    statements.deleteDepth.run(runKey);
    statements.insertDepth.run(runKey);
    this.frequencies.finish();
    statements.markDone.run(now(), runKey);
    // The figures a one-run overview prints, in one row (schema 10), from the rows just written.
    writeRunOverview(this.db, runKey);
    // A summaries run keeps its peaks until its jobs' rollups have taken its levels (rollups.ts).
    if (this.keepSummariesOnly) dropPositionRows(this.db, runKey);
    // What the roll-up would read back of the run: held once this transaction commits (finished()).
    this.finishedRun = {
      runKey,
      hidden: this.shape.hidden,
      rows: runRollupRows(this.db, runKey),
      peaks,
      peakRows: this.peakRows as Uint8Array,
      frequencyCounts: this.frequencies.heldCounts(),
      ...finishedRunCohorts(this.db, runKey),
    };
  }

  /** After the run's finishing transaction: a sweep keeps its writers to the end, so a finished run's peaks (H·(512 + H) floats) must not stay with it. */
  private finished(): void {
    if (this.finishedRun !== undefined) holdFinishedRun(this.db, this.finishedRun);
    this.finishedRun = undefined;
    this.done = true;
    this.peaks = undefined;
    this.peakRows = undefined;
    this.frequencies.release();
    this.summaries = null;
  }
}
