import type { Db } from './db.js';
import type { CohortKey } from './rollups.js';

/** A selected run, as the report's queries need it. */
export interface SelectedRun {
  readonly run_key: number;
  readonly run_id: string;
  readonly status: string;
}

/** A cohort (rollups.ts) whose finished runs are all selected: its rollups stand for them. */
export interface CoveringCohort extends CohortKey {
  /** Its runs, for a figure the rollups cannot give (then read run by run). */
  readonly runs: readonly SelectedRun[];
  /** One of them, for what all share (the τ list, the model). */
  readonly some_run_key: number;
}

/**
 * How a report reads a selection of runs: the fresh cohorts whose finished runs
 * it holds entirely (read from the rollups, a few rows each), and the runs no
 * such cohort covers (read run by run). Cohorts are taken largest first and
 * never overlap, so no run is counted twice; a cohort is fresh when its `runs`
 * equals its finished runs now.
 */
export interface SelectionPlan {
  readonly cohorts: readonly CoveringCohort[];
  readonly runs: readonly SelectedRun[];
}

const plans = new WeakMap<Db, WeakMap<readonly string[], SelectionPlan>>();

/** A run as listRuns last read it: what planning a selection needs, by run id. */
export interface KnownRun {
  readonly run_id: string;
  readonly run_key: number;
  readonly model_key: number;
  readonly dmax: number;
  readonly status: string;
}

const knownRuns = new WeakMap<Db, Map<string, KnownRun>>();

/** Notes the runs listRuns has just read, so that a selection of them is planned without looking ids up again. */
export function rememberRuns(db: Db, runs: readonly KnownRun[]): void {
  let known = knownRuns.get(db);
  if (known === undefined) {
    known = new Map();
    knownRuns.set(db, known);
  }
  for (const run of runs) known.set(run.run_id, run);
}

/** The selection's runs as last listed, if every one of them was. */
function knownSelection(db: Db, runIds: readonly string[]): KnownRun[] | undefined {
  const known = knownRuns.get(db);
  if (known === undefined) return undefined;
  const runs: KnownRun[] = [];
  for (const id of runIds) {
    const run = known.get(id);
    if (run === undefined) return undefined;
    runs.push(run);
  }
  return runs;
}

/** The distinct model keys of a selection whose runs were listed, else undefined. */
export function modelKeysOf(db: Db, runIds: readonly string[]): number[] | undefined {
  const runs = knownSelection(db, runIds);
  return runs === undefined ? undefined : [...new Set(runs.map((run) => run.model_key))];
}

/** The plan of a selection, made once per selection array (a report asks for it once per figure). */
export function planSelection(db: Db, runIds: readonly string[]): SelectionPlan {
  let byIds = plans.get(db);
  if (byIds === undefined) {
    byIds = new WeakMap();
    plans.set(db, byIds);
  }
  let plan = byIds.get(runIds);
  if (plan === undefined) {
    plan = makePlan(db, runIds);
    byIds.set(runIds, plan);
  }
  return plan;
}

function makePlan(db: Db, runIds: readonly string[]): SelectionPlan {
  const listed = knownSelection(db, runIds);
  const selectedRuns =
    listed ??
    (db
      .prepare(`SELECT r.run_key, r.run_id, r.status, r.model_key, r.dmax FROM json_each(?) j JOIN runs r ON r.run_id = j.value ORDER BY j.key`)
      .all(JSON.stringify(runIds)) as KnownRun[]);
  const selected = new Map(selectedRuns.map((run) => [run.run_key, { run_key: run.run_key, run_id: run.run_id, status: run.status }]));
  // Only a cohort of a model and Dmax the selection has can be covered by it.
  const shapes = new Set(selectedRuns.map((run) => `${run.model_key}:${run.dmax}`));
  const candidates = (
    db.prepare(`SELECT job_id, model_key, dmax, runs FROM job_cohorts ORDER BY runs DESC, job_id, model_key, dmax`).all() as (CohortKey & { runs: number })[]
  ).filter((cohort) => shapes.has(`${cohort.model_key}:${cohort.dmax}`));
  const doneRuns = db
    .prepare(
      `SELECT r.run_key FROM job_runs jr JOIN runs r USING (run_key)
       WHERE jr.job_id = @job_id AND r.model_key = @model_key AND r.dmax = @dmax AND r.status = 'done'`,
    )
    .pluck();
  const covered = new Set<number>();
  const cohorts: CoveringCohort[] = [];
  for (const candidate of candidates) {
    const members = doneRuns.all(candidate) as number[];
    if (members.length !== candidate.runs || members.length === 0) continue; // stale
    if (!members.every((runKey) => selected.has(runKey) && !covered.has(runKey))) continue;
    for (const runKey of members) covered.add(runKey);
    const { job_id, model_key, dmax } = candidate;
    cohorts.push({ job_id, model_key, dmax, runs: members.map((runKey) => selected.get(runKey) as SelectedRun), some_run_key: members[0] });
  }
  return { cohorts, runs: [...selected.values()].filter((run) => !covered.has(run.run_key)) };
}
