import { EXACT_BUCKETS, HIST_BUCKET } from './schema.js';

/**
 * The per-run summaries as SELECTs over the per-position rows of the runs that
 * `runFilter` (an SQL condition on `run_key`) matches. `finishRun` stores their
 * rows when a run is done; reports compute the same SELECTs on the fly for runs
 * that are not done yet, and a test compares the stored rows with them.
 */
export const TAU_STATS_SELECT = (runFilter: string): string => `
  SELECT run_key, tau_index, count(*) AS positions, sum(n_x) AS sum_x, sum(n_h) AS sum_h, sum(n_y) AS sum_y,
         min(n_x + n_h + n_y) AS min_n, max(n_x + n_h + n_y) AS max_n
  FROM count_rows WHERE ${runFilter}
  GROUP BY run_key, tau_index`;

export const TAU_HIST_SELECT = (runFilter: string): string => `
  SELECT run_key, tau_index, bucket, count(*) AS positions,
         CASE WHEN bucket < ${EXACT_BUCKETS} THEN NULL ELSE json_group_array(n - bucket ORDER BY n) END AS offsets
  FROM (SELECT run_key, tau_index, n, ${HIST_BUCKET('n')} AS bucket
        FROM (SELECT run_key, tau_index, n_x + n_h + n_y AS n FROM count_rows WHERE ${runFilter}))
  GROUP BY run_key, tau_index, bucket`;
