/**
 * The per-run summaries as SELECTs over the count blocks and shard sums of the
 * runs that `runFilter` (an SQL condition on `run_key`) matches: a few rows per
 * shard, never one per position. The writer stores its rows
 * when a run is done; reports compute the same SELECTs on the fly for runs that
 * are not done yet, and a test compares the stored rows with it.
 */
export const TAU_STATS_SELECT = (runFilter: string): string => `
  SELECT run_key, tau_index, sum(count) AS positions,
         sum(block_stat(count, counts, 'sum_x')) AS sum_x, sum(block_stat(count, counts, 'sum_h')) AS sum_h,
         sum(block_stat(count, counts, 'sum_y')) AS sum_y, min(block_stat(count, counts, 'min_n')) AS min_n,
         max(block_stat(count, counts, 'max_n')) AS max_n, sorted_totals(count, counts) AS sorted_n
  FROM count_blocks WHERE ${runFilter}
  GROUP BY run_key, tau_index`;

export const RUN_DEPTH_SELECT = (runFilter: string): string => `
  SELECT run_key, d, sum(positions) AS positions, exact_sum(mass_sum, mass_err) AS mass_sum, exact_sum_residual(mass_sum, mass_err) AS mass_err
  FROM shard_depth WHERE ${runFilter}
  GROUP BY run_key, d`;
