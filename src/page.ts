/**
 * The τ of the results page (spec: the Q1 page's headline figures): the median
 * and Wh share the page shows, the never-active patterns a `summaries` run keeps
 * (store/retention.ts), and the default of --never-tau, --hist-tau,
 * --explain-tau and `explain --tau`. A leaf module: the command table reads it
 * without loading the store or the report.
 */
export const PAGE_TAU = 0.01;

/**
 * The τ at which every run counts its patterns' activation frequency (the
 * positions where each is active; `pattern_frequency`): the page's, which its
 * frequency section reads. One τ keeps the store within its budget (a dense τ
 * would be 81,920 counts a run); adding one here adds it to every later run.
 */
export const FREQUENCY_TAUS: readonly number[] = [PAGE_TAU];
