import type { Db } from './db.js';
import type { CohortKey } from './rollups.js';
import { RunSelection, type RunGroup } from './selected.js';

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

/** What the report's queries take: a group of a RunSelection, or run ids. */
export type Runs = RunGroup | readonly string[];

const byIds = new WeakMap<Db, WeakMap<readonly string[], RunGroup>>();

/** The group of `runs` (for ids: one group of them, made once per array, as a report asks once per figure). */
export function groupOf(db: Db, runs: Runs): RunGroup {
  if (!Array.isArray(runs)) return runs as RunGroup;
  const ids = runs as readonly string[];
  let groups = byIds.get(db);
  if (groups === undefined) {
    groups = new WeakMap();
    byIds.set(db, groups);
  }
  let group = groups.get(ids);
  if (group === undefined) {
    group = RunSelection.ofIds(db, ids).groupBy([])[0] ?? emptyGroup;
    groups.set(ids, group);
  }
  return group;
}

const emptyGroup: RunGroup = {
  key: {},
  size: 0,
  runIds: () => [],
  plan: () => ({ cohorts: [], runs: [] }),
};

/** The plan of a group of runs. */
export function planSelection(db: Db, runs: Runs): SelectionPlan {
  return groupOf(db, runs).plan();
}
