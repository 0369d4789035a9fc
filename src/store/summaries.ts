/**
 * A run's depth profile as a SELECT over the shard sums of the runs that
 * `runFilter` (an SQL condition on `run_key`) matches: a few rows per shard,
 * never one per position. The writer stores its rows when a run is done;
 * reports compute the same SELECT on the fly for runs that are not done yet.
 * (The per-τ summaries are computed in tauStats.ts.)
 */
export const RUN_DEPTH_SELECT = (runFilter: string): string => `
  SELECT run_key, d, sum(positions) AS positions, exact_sum(mass_sum, mass_err) AS mass_sum, exact_sum_residual(mass_sum, mass_err) AS mass_err
  FROM shard_depth WHERE ${runFilter}
  GROUP BY run_key, d`;
