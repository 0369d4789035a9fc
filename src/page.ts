/**
 * The τ of the results page (spec: the Q1 page's headline figures): the median
 * and Wh share the page shows, the never-active patterns a `summaries` run keeps
 * (store/retention.ts), and the default of --never-tau, --hist-tau,
 * --explain-tau and `explain --tau`. A leaf module: the command table reads it
 * without loading the store or the report.
 */
export const PAGE_TAU = 0.01;
