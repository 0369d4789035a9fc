import type { Db } from './db.js';
import { uint32s } from './functions.js';

/**
 * The distribution of n = n_x + n_h + n_y over the positions of a selection at
 * one τ: how many positions have each distinct n, ascending. Read from the runs'
 * sorted counts (run_tau_stats.sorted_n; computed from the count blocks for runs
 * not finished), so it costs a BLOB per run, not a row per position. `tau` must
 * be the value stored (a τ of the report, not a float32 of it).
 */
export interface ActiveCountRow {
  readonly n: number;
  readonly positions: number;
}

const SORTED_COUNTS_AT_TAU = `
  WITH sel AS (SELECT r.run_key, r.status = 'done' AS done FROM json_each(?) j JOIN runs r ON r.run_id = j.value),
  at_tau AS (SELECT sel.run_key, sel.done, rt.tau_index FROM sel JOIN run_taus rt ON rt.run_key = sel.run_key AND rt.tau = ?)
  SELECT s.sorted_n FROM at_tau a JOIN run_tau_stats s ON s.run_key = a.run_key AND s.tau_index = a.tau_index WHERE a.done
  UNION ALL
  SELECT sorted_totals(b.count, b.counts) FROM at_tau a JOIN count_blocks b ON b.run_key = a.run_key AND b.tau_index = a.tau_index
  WHERE NOT a.done GROUP BY b.run_key`;

export function activeCountDistribution(db: Db, runIds: readonly string[], tau: number): ActiveCountRow[] {
  const positionsByN = new Map<number, number>();
  for (const blob of db.prepare(SORTED_COUNTS_AT_TAU).pluck().all(JSON.stringify(runIds), tau) as Buffer[]) {
    for (const n of uint32s(blob)) positionsByN.set(n, (positionsByN.get(n) ?? 0) + 1);
  }
  return [...positionsByN].sort(([a], [b]) => a - b).map(([n, positions]) => ({ n, positions }));
}
