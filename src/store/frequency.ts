import { BYTE_VALUES, frequencyLength, type PatternClass } from '../engine/index.js';
import { FREQUENCY_TAUS } from '../page.js';
import { codePointsOf, decodeCodePoints } from './codePoints.js';
import type { Db } from './db.js';
import { perConnection } from './statements.js';

/**
 * Activation frequencies (schema 7): per run, frequency τ and pattern, the
 * positions where the pattern is active, as the counts decide it (the engine
 * counts them with the counts' comparisons: trace.wat). A run adds up its
 * shards' frequencies as they are committed, in the shard's transaction, so a
 * killed run resumes to the same sums. Stored per (class, row) with any pattern
 * active: a code point array of H counts (`pattern_frequency_rows`), so they add
 * up over any selection of runs, in plain SQL too (the `pattern_frequency` view).
 */

/** The rows of one τ's frequencies (frequencyLength's layout): each class's rows of H patterns, where they begin. */
export function frequencyRows(hidden: number): readonly { readonly cls: PatternClass; readonly rows: number; readonly offset: number }[] {
  const H = hidden;
  return [
    { cls: 'wx', rows: BYTE_VALUES, offset: 0 },
    { cls: 'wh', rows: H, offset: BYTE_VALUES * H },
    { cls: 'wy', rows: BYTE_VALUES, offset: BYTE_VALUES * H + H * H },
  ];
}

/** Where row `row` of class `cls` begins in frequencyLength's layout. */
export function frequencyRowOffset(hidden: number, cls: PatternClass, row: number): number {
  const rows = frequencyRows(hidden).find((entry) => entry.cls === cls);
  if (rows === undefined || !Number.isInteger(row) || row < 0 || row >= rows.rows) throw new RangeError(`no ${cls} frequency row ${row} for H = ${hidden}`);
  return rows.offset + row * hidden;
}

const statementsOf = perConnection((db: Db) => ({
  runFrequency: db.prepare(`SELECT tau, positions FROM run_frequency WHERE run_key = ?`),
  rows: db.prepare(`SELECT class, row, positions FROM pattern_frequency_rows WHERE run_key = ? AND tau = ?`),
  shardCount: db.prepare(`SELECT count(*) FROM shards WHERE run_key = ?`).pluck(),
  insertRun: db.prepare(`INSERT INTO run_frequency (run_key, tau, tau_f32, positions) VALUES (?, ?, ?, 0)`),
  addPositions: db.prepare(`UPDATE run_frequency SET positions = positions + ? WHERE run_key = ? AND tau = ?`),
  upsertRow: db.prepare(
    `INSERT INTO pattern_frequency_rows (run_key, tau, class, row, positions) VALUES (?, ?, ?, ?, ?)
     ON CONFLICT (run_key, tau, class, row) DO UPDATE SET positions = excluded.positions`,
  ),
}));

/** One τ of a run's frequencies, summed so far. */
interface RunFrequencyAt {
  readonly tau: number;
  readonly counts: Uint32Array;
}

/**
 * A run's frequencies as its writer adds shards to them: loaded from the store on
 * the first shard (a resumed run goes on from its committed shards), or begun at
 * zero for a run with no shard yet. A run that has shards but no frequencies was
 * begun before schema 7: it gets none (its first positions were never counted).
 */
export class RunFrequencies {
  /** Per FREQUENCY_TAUS index, the run's sums; undefined until loaded; null for a τ the run does not count. */
  private sums: (RunFrequencyAt | null)[] | undefined;

  constructor(
    private readonly db: Db,
    private readonly runKey: number,
    private readonly hidden: number,
  ) {}

  /**
   * Within the shard's transaction, before its shard row is written: adds the
   * shard's frequencies (FREQUENCY_TAUS order) and writes the rows they change.
   */
  addShard(frequency: Uint32Array | undefined, positions: number): void {
    const s = statementsOf(this.db);
    const length = frequencyLength(this.hidden);
    const sums = this.load();
    // A shard without frequencies (made by hand in tests) leaves the run's count short of its positions: no frequency is shown for it.
    if (frequency === undefined) return;
    if (frequency.length !== FREQUENCY_TAUS.length * length) {
      throw new RangeError(`a shard of run key ${this.runKey} with ${frequency?.length ?? 0} frequencies, expected ${FREQUENCY_TAUS.length * length}`);
    }
    sums.forEach((sum, k) => {
      if (sum === null) return;
      const shard = frequency.subarray(k * length, (k + 1) * length);
      for (const { cls, rows, offset } of frequencyRows(this.hidden)) {
        for (let row = 0; row < rows; row++) {
          const begin = offset + row * this.hidden;
          let changed = false;
          for (let p = begin; p < begin + this.hidden; p++) {
            if (shard[p] !== 0) {
              sum.counts[p] += shard[p];
              changed = true;
            }
          }
          if (changed) s.upsertRow.run(this.runKey, sum.tau, cls, row, codePointsOf(sum.counts.subarray(begin, begin + this.hidden)));
        }
      }
      s.addPositions.run(positions, this.runKey, sum.tau);
    });
  }

  /** Lets go of the sums (a finished run's writer stays until the sweep ends). */
  release(): void {
    this.sums = undefined;
  }

  private load(): (RunFrequencyAt | null)[] {
    if (this.sums !== undefined) return this.sums;
    const s = statementsOf(this.db);
    const stored = new Map((s.runFrequency.all(this.runKey) as { tau: number; positions: number }[]).map((row) => [row.tau, row.positions]));
    const begun = (s.shardCount.get(this.runKey) as number) > 0;
    this.sums = FREQUENCY_TAUS.map((tau) => {
      const counts = new Uint32Array(frequencyLength(this.hidden));
      if (!stored.has(tau)) {
        if (begun) return null;
        s.insertRun.run(this.runKey, tau, Math.fround(tau));
        return { tau, counts };
      }
      for (const row of s.rows.all(this.runKey, tau) as { class: PatternClass; row: number; positions: Buffer }[]) {
        counts.set(decodeCodePoints(row.positions, this.hidden), frequencyRowOffset(this.hidden, row.class, row.row));
      }
      return { tau, counts };
    });
    return this.sums;
  }
}
