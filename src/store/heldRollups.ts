import { BYTE_VALUES, frequencyLength, type PatternPeaks } from '../engine/index.js';
import type { Db } from './db.js';
import { FREQUENCY_DROPPED } from './frequency.js';
import { levelsOfValues, sortedThresholds, type PatternLevels } from './levels.js';
import { COHORT_DATA_OF, cohortId, type CohortKey } from './cohorts.js';
import { perConnection } from './statements.js';
import type { DepthSumRow, TauSumRow } from './sums.js';

/**
 * What the writer holds of the runs it finished, merged per cohort as they
 * finish, so that rollUp (rollups.ts) adds them to their cohorts without reading
 * back and decoding each run's frequency and peak rows: per cohort, the runs'
 * frequency counts added up and their peaks' elementwise maximum (a pattern's
 * level is monotone in its peak, so the level of the maximum is the maximum of
 * the levels), and per run the few rows a roll-up reads of it (its τ, summaries,
 * depth, shards), read in the transaction that finished it.
 *
 * Only a shortcut: a cohort's held runs are used only when each of them is
 * rolled up now (each is a finished run of that cohort not rolled up yet), the
 * held sums are those of the runs' stored rows (the writer stored them from
 * those counts and peaks), and every other run is read from the store as
 * before. Anything odd (a run noted twice, runs of one cohort with different
 * thresholds, a threshold below 0) drops the cohort's held sums, and the store
 * is read.
 */

/** The rows rollUp reads of one finished run that are few (its summaries, not its patterns'). */
export interface RunRollupRows {
  readonly taus: readonly { readonly tau_index: number; readonly tau: number; readonly tau_f32: number }[];
  readonly stats: readonly (TauSumRow & { readonly tau_index: number; readonly median_n?: number })[];
  readonly depth: readonly DepthSumRow[];
  readonly shards: readonly { readonly count: number; readonly surprisal_sum: number; readonly surprisal_err: number }[];
  /** Its peak rows are (or were) kept: false for a run kept as summaries without any. */
  readonly keepsPeaks: boolean;
}

/** Stored peak rows in the order a run's are read (class wh, wx, wy, then row): index 0 the Wh row, 1 + c Wx row c, 1 + 256 + y Wy row y. */
export const PEAK_ROW_SLOTS = 1 + 2 * BYTE_VALUES;

export function peakRowSlot(cls: 'wx' | 'wh' | 'wy', row: number): number {
  return cls === 'wh' ? 0 : cls === 'wx' ? 1 + row : 1 + BYTE_VALUES + row;
}

/** A run the writer just finished, as it holds it (nothing here is read from the store but `rows`). */
export interface FinishedRun {
  readonly runKey: number;
  readonly hidden: number;
  readonly rows: RunRollupRows;
  /** Its merged peaks (engine layout). */
  readonly peaks: PatternPeaks;
  /** Per PEAK_ROW_SLOTS slot, 1 where the run has a stored peak row. */
  readonly peakRows: Uint8Array;
  /** Its frequency counts per run_frequency tau_index (frequencyLength's layout), as its stored rows hold them. */
  readonly frequencyCounts: ReadonlyMap<number, Uint32Array>;
  /** Its run_frequency rows, read in its finishing transaction: what CohortFrequency.addRun reads. */
  readonly frequencyRows: readonly RunFrequencyRow[];
  /** The cohorts it joins (its jobs' that have not rolled it up). */
  readonly cohorts: readonly CohortKey[];
}

export interface RunFrequencyRow {
  readonly tau_index: number;
  readonly tau: number;
  readonly tau_f32: number;
  readonly positions: number;
  readonly run_positions: number;
  readonly dropped: number;
}

/** A cohort's frequencies at one τ over its held runs (CohortFrequency's FrequencyAt). */
export interface HeldFrequencyAt {
  readonly tauF32: number;
  runs: number;
  positions: number;
  complete: boolean;
  readonly counts: Float64Array;
}

/** A cohort's held runs, merged. */
export class HeldCohort {
  /** Per run: its few rows and which peak rows it has. */
  readonly runs = new Map<number, { readonly rows: RunRollupRows; readonly peakRows: Uint8Array }>();
  readonly frequency = new Map<number, HeldFrequencyAt>();
  private readonly maxPeaks: PatternPeaks;
  private thresholds: Float64Array | undefined;
  usable = true;

  constructor(readonly hidden: number) {
    this.maxPeaks = { wx: new Float32Array(hidden * BYTE_VALUES), wh: new Float32Array(hidden * hidden), wy: new Float32Array(BYTE_VALUES * hidden) };
  }

  /** Bytes it holds (peaks and one τ of counts; more τ add as they come). */
  static bytes(hidden: number): number {
    return 4 * hidden * (2 * BYTE_VALUES + hidden) + 8 * frequencyLength(hidden);
  }

  add(run: FinishedRun): void {
    if (!this.usable) return;
    const thresholds = sortedThresholds(run.rows.taus.map((row) => row.tau_f32));
    // Levels merge by max only over the same thresholds; a peak of 0 (a row never stored) is at level 0 only when no threshold is below 0.
    if (this.runs.has(run.runKey) || run.hidden !== this.hidden || (thresholds.length > 0 && !(thresholds[0] >= 0)) || (this.thresholds !== undefined && !sameValues(this.thresholds, thresholds))) {
      this.drop();
      return;
    }
    this.thresholds = thresholds;
    this.runs.set(run.runKey, { rows: run.rows, peakRows: run.peakRows });
    // Only the rows the run has stored: the others are zeros, which leave the maximum as it is.
    const H = this.hidden;
    if (run.peakRows[0] === 1) maxInto(this.maxPeaks.wh, run.peaks.wh, 0, H * H, 1);
    for (let c = 0; c < BYTE_VALUES; c++) {
      // Wx is j-major: row c is every BYTE_VALUES-th value from c.
      if (run.peakRows[1 + c] === 1) maxInto(this.maxPeaks.wx, run.peaks.wx, c, H * BYTE_VALUES, BYTE_VALUES);
    }
    for (let y = 0; y < BYTE_VALUES; y++) {
      if (run.peakRows[1 + BYTE_VALUES + y] === 1) maxInto(this.maxPeaks.wy, run.peaks.wy, y * H, (y + 1) * H, 1);
    }
    // CohortFrequency.addRun on the held counts.
    for (const row of run.frequencyRows) {
      if (row.positions !== row.run_positions) continue;
      let at = this.frequency.get(row.tau);
      if (at === undefined) {
        at = { tauF32: row.tau_f32, runs: 0, positions: 0, complete: true, counts: new Float64Array(frequencyLength(this.hidden)) };
        this.frequency.set(row.tau, at);
      }
      at.runs += 1;
      at.positions += row.positions;
      if (row.dropped === 1) {
        at.complete = false;
        continue;
      }
      const counts = run.frequencyCounts.get(row.tau_index);
      if (counts === undefined || counts.length !== at.counts.length) {
        this.drop();
        return;
      }
      const into = at.counts;
      for (let k = 0; k < counts.length; k++) into[k] += counts[k];
    }
  }

  /** The levels of the held runs' maximum peaks, per PEAK_ROW_SLOTS slot that some held run has (undefined for the others). */
  levels(): (PatternLevels | undefined)[] {
    const H = this.hidden;
    const thresholds = this.thresholds ?? new Float64Array(0);
    const present = new Uint8Array(PEAK_ROW_SLOTS);
    for (const { peakRows } of this.runs.values()) for (let slot = 0; slot < PEAK_ROW_SLOTS; slot++) present[slot] |= peakRows[slot];
    const levels: (PatternLevels | undefined)[] = new Array(PEAK_ROW_SLOTS).fill(undefined);
    if (present[0] === 1) levels[0] = { cls: 'wh', row: 0, levels: levelsOfValues(this.maxPeaks.wh, thresholds) };
    const row = new Float32Array(H);
    for (let c = 0; c < BYTE_VALUES; c++) {
      if (present[1 + c] !== 1) continue;
      // Wx is j-major: row c is every BYTE_VALUES-th value from c (engine/results.ts).
      for (let j = 0; j < H; j++) row[j] = this.maxPeaks.wx[j * BYTE_VALUES + c];
      levels[1 + c] = { cls: 'wx', row: c, levels: levelsOfValues(row, thresholds) };
    }
    for (let y = 0; y < BYTE_VALUES; y++) {
      if (present[1 + BYTE_VALUES + y] === 1) levels[1 + BYTE_VALUES + y] = { cls: 'wy', row: y, levels: levelsOfValues(this.maxPeaks.wy.subarray(y * H, (y + 1) * H), thresholds) };
    }
    return levels;
  }

  private drop(): void {
    this.usable = false;
    this.runs.clear();
    this.frequency.clear();
  }
}

function sameValues(a: Float64Array, b: Float64Array): boolean {
  return a.length === b.length && a.every((value, k) => value === b[k]);
}

/** into[k] = max(into[k], from[k]) for k = begin, begin + step, … below end. */
function maxInto(into: Float32Array, from: Float32Array, begin: number, end: number, step: number): void {
  for (let k = begin; k < end; k += step) if (from[k] > into[k]) into[k] = from[k];
}

/** At most this many bytes of held cohorts per connection; a cohort past it is read from the store. */
const HELD_BYTES = 64 * 1024 * 1024;

interface Held {
  readonly cohorts: Map<string, HeldCohort>;
  bytes: number;
}

const heldOf = new WeakMap<Db, Held>();

const statements = perConnection((db: Db) => ({
  cohorts: db.prepare(
    `SELECT jr.job_id, r.model_key, r.dmax, ${COHORT_DATA_OF} AS data_path FROM job_runs jr JOIN runs r USING (run_key) WHERE jr.run_key = ? AND jr.rolled_up = 0`,
  ),
  frequency: db.prepare(
    `SELECT rf.tau_index, rf.tau, rf.tau_f32, rf.positions, r.positions AS run_positions, ${FREQUENCY_DROPPED('r')} AS dropped
     FROM run_frequency rf JOIN runs r USING (run_key) WHERE rf.run_key = ?`,
  ),
}));

/** In a run's finishing transaction: the cohorts it joins and its frequency rows (what FinishedRun needs from the store). */
export function finishedRunCohorts(db: Db, runKey: number): { cohorts: CohortKey[]; frequencyRows: RunFrequencyRow[] } {
  const s = statements(db);
  return { cohorts: s.cohorts.all(runKey) as CohortKey[], frequencyRows: s.frequency.all(runKey) as RunFrequencyRow[] };
}

/** After a run's finishing transaction committed: merges it into its cohorts' held runs. */
export function holdFinishedRun(db: Db, run: FinishedRun): void {
  let held = heldOf.get(db);
  if (held === undefined) {
    held = { cohorts: new Map(), bytes: 0 };
    heldOf.set(db, held);
  }
  for (const key of run.cohorts) {
    const id = cohortId(key);
    let cohort = held.cohorts.get(id);
    if (cohort === undefined) {
      const bytes = HeldCohort.bytes(run.hidden);
      if (held.bytes + bytes > HELD_BYTES) continue;
      cohort = new HeldCohort(run.hidden);
      held.cohorts.set(id, cohort);
      held.bytes += bytes;
    }
    cohort.add(run);
  }
}

/** The cohort's held runs if every one of them is among `runKeys` (the runs being added to it now). */
export function heldCohort(db: Db, key: CohortKey, runKeys: readonly number[]): HeldCohort | undefined {
  const cohort = heldOf.get(db)?.cohorts.get(cohortId(key));
  if (cohort === undefined || !cohort.usable || cohort.runs.size === 0) return undefined;
  const adding = new Set(runKeys);
  for (const runKey of cohort.runs.keys()) if (!adding.has(runKey)) return undefined;
  return cohort;
}

/** Forgets every held run (after a roll-up: the runs are in their cohorts now, or read from the store next time). */
export function releaseHeldRuns(db: Db): void {
  heldOf.delete(db);
}
