import type { Db } from './db.js';
import { RunSelection, type RunGroup } from './selected.js';
import type { SelectionPlan } from './selectionPlan.js';

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
