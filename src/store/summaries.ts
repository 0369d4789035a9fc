/**
 * The per-run summaries as SELECTs over the per-position rows of the runs that
 * `runFilter` (an SQL condition on `run_key`) matches. The writer stores its rows
 * when a run is done; reports compute the same SELECTs on the fly for runs that
 * are not done yet, and a test compares the stored rows with it.
 */
export const TAU_STATS_SELECT = (runFilter: string): string => `
  SELECT run_key, tau_index, count(*) AS positions, sum(n_x) AS sum_x, sum(n_h) AS sum_h, sum(n_y) AS sum_y,
         min(n_x + n_h + n_y) AS min_n, max(n_x + n_h + n_y) AS max_n, sorted_counts(n_x + n_h + n_y) AS sorted_n
  FROM count_rows WHERE ${runFilter}
  GROUP BY run_key, tau_index`;

export const RUN_DEPTH_SELECT = (runFilter: string): string => `
  SELECT run_key, d, sum(positions) AS positions, exact_sum(mass_sum, mass_err) AS mass_sum, exact_sum_residual(mass_sum, mass_err) AS mass_err
  FROM shard_depth WHERE ${runFilter}
  GROUP BY run_key, d`;
