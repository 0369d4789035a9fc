import type { Db } from './db.js';

/** The stored n_x, n_h, n_y of one position of one run, at every τ of the run (for `explain`).
 * Reads only the `counts` relation, as the table or the view of the compact store. */
export interface StoredCountsRow {
  readonly tau: number;
  readonly n_x: number;
  readonly n_h: number;
  readonly n_y: number;
}

export function storedCountsAt(db: Db, runId: string, t: number): StoredCountsRow[] {
  return db.prepare(`SELECT tau, n_x, n_h, n_y FROM counts WHERE run_id = ? AND t = ? ORDER BY tau`).all(runId, t) as StoredCountsRow[];
}
