import type { Db } from './db.js';
import { ExactSum } from '../engine/exactSum.js';
import { perConnection } from './statements.js';

/**
 * Per finished run, every figure a one-run group's overview prints, in one row
 * (RUN_OVERVIEW_TABLE, schema 10): written in the transaction that finishes the
 * run (runWriter.ts), when a segment's run is merged (merge.ts) and by the
 * migration from schema 9, always from the run's own rows (`shards`,
 * `run_taus`, `run_tau_stats`), so it holds nothing they do not.
 */

/** Float64s per τ in `run_overview.figures`: tau, tau_f32, positions, n_sum, median_n. */
export const OVERVIEW_FIGURES_PER_TAU = 5;

const littleEndian = new Uint8Array(new Float64Array([1]).buffer)[7] === 0x3f;

/**
 * `run_overview.figures` (little-endian float64s) as numbers, decoded into a
 * reused array: at 10⁵ runs, readDoubleLE's checks per value, or an array per
 * run, were a tenth of a second. What `decode` returns lives until its next call.
 */
export class OverviewFigureDecoder {
  #bytes = new Uint8Array(512);

  decode(bytes: Uint8Array): Float64Array {
    const count = bytes.length >> 3;
    if (this.#bytes.length < 8 * count) this.#bytes = new Uint8Array(Math.max(8 * count, 2 * this.#bytes.length));
    const values = new Float64Array(this.#bytes.buffer, 0, count);
    if (littleEndian) this.#bytes.set(bytes.subarray(0, 8 * count));
    else {
      const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
      for (let k = 0; k < count; k++) values[k] = view.getFloat64(8 * k, true);
    }
    return values;
  }
}

const statements = perConnection((db: Db) => ({
  shards: db.prepare(`SELECT count, surprisal_sum, surprisal_err FROM shards WHERE run_key = ?`).raw(),
  taus: db
    .prepare(
      `SELECT t.tau_index, t.tau, t.tau_f32, s.positions, s.sum_x + s.sum_h + s.sum_y AS n_sum, s.median_n
       FROM run_taus t LEFT JOIN run_tau_stats s INDEXED BY run_tau_stats_figures USING (run_key, tau_index)
       WHERE t.run_key = ? ORDER BY t.tau_index`,
    )
    .raw(),
  remove: db.prepare(`DELETE FROM run_overview WHERE run_key = ?`),
  insert: db.prepare(`INSERT OR REPLACE INTO run_overview (run_key, positions, surprisal_bits, taus, figures) VALUES (?, ?, ?, ?, ?)`),
  finished: db.prepare(`SELECT run_key FROM runs WHERE status = 'done' ORDER BY run_key`).pluck(),
}));

/**
 * Writes a finished run's `run_overview` row from its stored rows (in the
 * caller's transaction), replacing any; a run whose τ are not numbered
 * 0 … count − 1 with summaries at each gets none (its reports read the rows
 * themselves). The sum is surprisalOf's: every shard's split sum added exactly.
 */
export function writeRunOverview(db: Db, runKey: number): void {
  const s = statements(db);
  const taus = s.taus.all(runKey) as [tauIndex: number, tau: number, tauF32: number, positions: number | null, nSum: number | null, median: number | null][];
  if (taus.length === 0 || taus.some((row, k) => row[0] !== k || row[3] === null || row[4] === null || row[5] === null)) {
    s.remove.run(runKey);
    return;
  }
  const sum = new ExactSum();
  let positions = 0;
  for (const [count, surprisalSum, surprisalErr] of s.shards.all(runKey) as [number, number, number][]) {
    positions += count;
    sum.add(surprisalSum);
    sum.add(surprisalErr);
  }
  const figures = Buffer.alloc(8 * OVERVIEW_FIGURES_PER_TAU * taus.length);
  taus.forEach(([, tau, tauF32, tauPositions, nSum, median], k) => {
    const at = 8 * OVERVIEW_FIGURES_PER_TAU * k;
    figures.writeDoubleLE(tau, at);
    figures.writeDoubleLE(tauF32, at + 8);
    figures.writeDoubleLE(tauPositions as number, at + 16);
    figures.writeDoubleLE(nSum as number, at + 24);
    figures.writeDoubleLE(median as number, at + 32);
  });
  s.insert.run(runKey, positions, sum.value(), taus.length, figures);
}

/** Every finished run's `run_overview` row (the migration from schema 9; the caller's transaction); how many runs. */
export function writeAllRunOverviews(db: Db): number {
  const runKeys = statements(db).finished.all() as number[];
  for (const runKey of runKeys) writeRunOverview(db, runKey);
  return runKeys.length;
}
