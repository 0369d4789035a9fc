import { frequencyLength, type PatternClass } from '../engine/index.js';
import { codePointsOf, decodeCodePoints } from './codePoints.js';
import type { Db } from './db.js';
import { FREQUENCY_DROPPED, frequencyRowOffset, frequencyRows } from './frequency.js';
import type { HeldFrequencyAt } from './heldRollups.js';
import type { CohortKey } from './cohorts.js';
import { perConnection } from './statements.js';

/**
 * A cohort's activation frequencies (schema 9: `cohort_frequency`,
 * `cohort_frequency_rows`): per frequency τ, its runs' `pattern_frequency_rows`
 * added up, exactly (integer sums), as rollups.ts adds a batch of runs to a
 * cohort. Only runs whose every position was counted go in, as a report counts
 * them (frequency.ts); a run kept as summaries whose own rows are already gone
 * leaves the cohort's sums incomplete, and a report reads its runs instead.
 */

const COHORT = 'job_id = @job_id AND model_key = @model_key AND dmax = @dmax AND data_path = @data_path';

const statementsOf = perConnection((db: Db) => ({
  cohort: db.prepare(`SELECT tau, tau_f32, runs, positions, complete FROM cohort_frequency WHERE ${COHORT}`),
  cohortRows: db.prepare(`SELECT tau, class, row, positions FROM cohort_frequency_rows WHERE ${COHORT}`),
  runFrequency: db.prepare(
    `SELECT rf.tau, rf.tau_f32, rf.positions, r.positions AS run_positions, ${FREQUENCY_DROPPED('r')} AS dropped
     FROM run_frequency rf JOIN runs r USING (run_key) WHERE rf.run_key = ?`,
  ),
  runRows: db.prepare(`SELECT rf.tau, f.class, f.row, f.positions FROM pattern_frequency_rows f JOIN run_frequency rf USING (run_key, tau_index) WHERE f.run_key = ?`),
  upsert: db.prepare(
    `INSERT OR REPLACE INTO cohort_frequency (job_id, model_key, dmax, data_path, tau, tau_f32, runs, positions, complete)
     VALUES (@job_id, @model_key, @dmax, @data_path, @tau, @tau_f32, @runs, @positions, @complete)`,
  ),
  upsertRow: db.prepare(
    `INSERT OR REPLACE INTO cohort_frequency_rows (job_id, model_key, dmax, data_path, tau, class, row, positions)
     VALUES (@job_id, @model_key, @dmax, @data_path, @tau, @class, @row, @positions)`,
  ),
}));

/** A cohort's frequencies at one τ, being added up. */
interface FrequencyAt {
  readonly tauF32: number;
  runs: number;
  positions: number;
  complete: boolean;
  /** Per pattern (frequencyLength's layout): positions where it is active, summed. */
  readonly counts: Float64Array;
}

/** A cohort's frequencies as rollups.ts adds runs to it: its stored sums, the runs added, written back. */
export class CohortFrequency {
  private readonly byTau = new Map<number, FrequencyAt>();

  constructor(
    private readonly db: Db,
    private readonly hidden: number,
  ) {}

  /** Starts from the cohort's stored sums (a cohort that grows). */
  loadCohort(key: CohortKey): void {
    const s = statementsOf(this.db);
    for (const row of s.cohort.all(key) as { tau: number; tau_f32: number; runs: number; positions: number; complete: number }[]) {
      const at = this.at(row.tau, row.tau_f32);
      at.runs = row.runs;
      at.positions = row.positions;
      at.complete = row.complete === 1;
    }
    for (const row of s.cohortRows.all(key) as { tau: number; class: PatternClass; row: number; positions: Buffer }[]) {
      const at = this.byTau.get(row.tau);
      if (at === undefined) throw new Error(`cohort_frequency_rows has a row at τ = ${row.tau} that cohort_frequency lacks`);
      this.addRow(at, row.class, row.row, row.positions);
    }
  }

  /** Adds a finished run's frequencies at each τ where it counted every position. */
  addRun(runKey: number): void {
    const s = statementsOf(this.db);
    const counted = new Set<number>();
    for (const row of s.runFrequency.all(runKey) as { tau: number; tau_f32: number; positions: number; run_positions: number; dropped: number }[]) {
      if (row.positions !== row.run_positions) continue;
      const at = this.at(row.tau, row.tau_f32);
      at.runs += 1;
      at.positions += row.positions;
      // Its rows are gone (a summaries run rolled up before): the sums lack them.
      if (row.dropped === 1) at.complete = false;
      else counted.add(row.tau);
    }
    for (const row of s.runRows.all(runKey) as { tau: number; class: PatternClass; row: number; positions: Buffer }[]) {
      const at = this.byTau.get(row.tau);
      if (at !== undefined && counted.has(row.tau)) this.addRow(at, row.class, row.row, row.positions);
    }
  }

  /** Adds the frequencies of a cohort's held runs (heldRollups.ts: what addRun would add of each). */
  addHeld(held: ReadonlyMap<number, HeldFrequencyAt>): void {
    for (const [tau, from] of held) {
      const at = this.at(tau, from.tauF32);
      at.runs += from.runs;
      at.positions += from.positions;
      if (!from.complete) at.complete = false;
      const counts = at.counts;
      for (let k = 0; k < counts.length; k++) counts[k] += from.counts[k];
    }
  }

  /** Writes the sums back (rows with a pattern active only). */
  write(key: CohortKey): void {
    const s = statementsOf(this.db);
    for (const [tau, at] of this.byTau) {
      s.upsert.run({ ...key, tau, tau_f32: at.tauF32, runs: at.runs, positions: at.positions, complete: at.complete ? 1 : 0 });
      for (const { cls, rows, offset } of frequencyRows(this.hidden)) {
        for (let row = 0; row < rows; row++) {
          const values = at.counts.subarray(offset + row * this.hidden, offset + (row + 1) * this.hidden);
          if (values.some((n) => n > 0)) s.upsertRow.run({ ...key, tau, class: cls, row, positions: codePointsOf(values) });
        }
      }
    }
  }

  private at(tau: number, tauF32: number): FrequencyAt {
    let at = this.byTau.get(tau);
    if (at === undefined) {
      at = { tauF32, runs: 0, positions: 0, complete: true, counts: new Float64Array(frequencyLength(this.hidden)) };
      this.byTau.set(tau, at);
    }
    return at;
  }

  private addRow(at: FrequencyAt, cls: PatternClass, row: number, blob: Buffer): void {
    const values = decodeCodePoints(blob, this.hidden);
    const offset = frequencyRowOffset(this.hidden, cls, row);
    for (let j = 0; j < this.hidden; j++) at.counts[offset + j] += values[j];
  }
}
