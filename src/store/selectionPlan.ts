/**
 * What a report's plan of a group of runs is made of (selected.ts makes it,
 * selection.ts hands it to the queries): the runs it reads one by one and the
 * cohorts whose rollups stand for theirs.
 */
import type { CohortKey } from './cohorts.js';

/** A selected run, as the report's queries need it. */
export interface SelectedRun {
  readonly run_key: number;
  readonly run_id: string;
  readonly status: string;
}

/** A cohort (rollups.ts) whose finished runs are all selected: its rollups stand for them. */
export interface CoveringCohort extends CohortKey {
  /** Its runs, for a figure the rollups cannot give (then read run by run). */
  members(): readonly SelectedRun[];
  /** One of them, for what all share (the τ list, the model). */
  readonly some_run_key: number;
}

/**
 * How a report reads a group of runs: the fresh cohorts whose finished runs it
 * holds entirely (read from the rollups, a few rows each), and the runs no such
 * cohort covers (read run by run). Cohorts never overlap, so no run is counted
 * twice; a cohort is fresh when its `runs` equals its finished runs now.
 */
export interface SelectionPlan {
  readonly cohorts: readonly CoveringCohort[];
  readonly runs: readonly SelectedRun[];
}
