import type { Db } from './db.js';

/**
 * The distribution of n = n_x + n_h + n_y over the positions of a selection at
 * one τ: how many positions have each distinct n. Reads only the `counts`
 * relation's (run_id, t, tau, n_x, n_h, n_y), so it works on the table and on
 * the view of the compact store alike. `tau` must be the value stored (a τ of
 * the report, not a float32 of it).
 */
export interface ActiveCountRow {
  readonly n: number;
  readonly positions: number;
}

export function activeCountDistribution(db: Db, runIds: readonly string[], tau: number): ActiveCountRow[] {
  return db
    .prepare(
      `SELECT n_x + n_h + n_y AS n, count(*) AS positions FROM counts
       WHERE run_id IN (SELECT value FROM json_each(?)) AND tau = ?
       GROUP BY n ORDER BY n`,
    )
    .all(JSON.stringify(runIds), tau) as ActiveCountRow[];
}
