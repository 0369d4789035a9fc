import { resolve } from 'node:path';
import { InputError } from '../errors.js';
import { findJob, findRun, latestJob, listRuns, type Db, type RunRow } from '../store/index.js';
import type { Grouping } from './choices.js';

/** Which runs a report or export covers. Default: the most recently started job. */
export interface Selection {
  readonly job?: string;
  readonly runs?: readonly string[];
  readonly all?: boolean;
  /** A model's sha256 prefix or file path. */
  readonly model?: string;
  readonly dmax?: number;
  /** A data file path. */
  readonly data?: string;
}

export function selectRuns(db: Db, selection: Selection, dbPath: string): RunRow[] {
  let runs: RunRow[];
  if (selection.runs && selection.runs.length > 0) {
    const every = listRuns(db);
    runs = selection.runs.map((wanted) => findRun(db, wanted, dbPath, every));
  } else if (selection.all) {
    runs = listRuns(db);
  } else {
    const job = selection.job !== undefined ? findJob(db, selection.job, dbPath) : latestJob(db);
    if (job === undefined) throw new InputError(`database ${dbPath}: holds no job yet (run \`sparsetrace run\` first)`);
    runs = listRuns(db, job.job_id);
  }
  if (selection.model !== undefined) {
    const wanted = selection.model;
    const path = resolve(wanted);
    runs = runs.filter((run) => run.model_sha256.startsWith(wanted) || run.model_path === path);
  }
  if (selection.dmax !== undefined) runs = runs.filter((run) => run.dmax === selection.dmax);
  if (selection.data !== undefined) {
    const path = resolve(selection.data);
    runs = runs.filter((run) => run.data_path === path);
  }
  if (runs.length === 0) throw new InputError(`the selection matches no run in ${dbPath} (see \`sparsetrace runs\`)`);
  return runs;
}

/** A group's key: a model ("path (sha256 prefix)"), a window ("path@offset+length") or a Dmax (a number). */
export type GroupKey = string | number;

/** Splits runs into groups with a readable key, in first-seen order. */
export function groupRuns(runs: readonly RunRow[], by: Grouping): { key: GroupKey; runs: RunRow[] }[] {
  const groups = new Map<GroupKey, RunRow[]>();
  for (const run of runs) {
    const key = by === 'model' ? `${run.model_path} (${run.model_sha256.slice(0, 12)})` : by === 'window' ? `${run.data_path}@${run.data_offset}+${run.data_length}` : run.dmax;
    const group = groups.get(key) ?? [];
    group.push(run);
    groups.set(key, group);
  }
  return [...groups].map(([key, members]) => ({ key, runs: members }));
}

/** What a selection of runs mixes: models, Dmax values, τ lists, data files. */
export interface Mix {
  readonly models: readonly string[];
  readonly dmax: readonly number[];
  /** Each distinct τ list, as the comma-joined text of its values. */
  readonly tauLists: readonly string[];
  readonly dataFiles: readonly string[];
  readonly windows: number;
}

export function describeMix(runs: readonly RunRow[]): Mix {
  const distinct = <T>(values: T[]): T[] => [...new Set(values)];
  return {
    models: distinct(runs.map((run) => run.model_sha256)),
    dmax: distinct(runs.map((run) => run.dmax)).sort((a, b) => a - b),
    tauLists: distinct(runs.map((run) => run.taus)),
    dataFiles: distinct(runs.map((run) => run.data_path)),
    windows: new Set(runs.map((run) => `${run.data_sha256}`)).size,
  };
}

/**
 * The thresholds of `available` that the wanted values name: a value names the τ
 * equal to it as float32, or the one it rounds (0.0178 names 0.0177827941004).
 */
export function matchTaus(available: readonly number[], wanted: readonly number[]): number[] {
  return wanted.map((value) => {
    const exact = available.filter((tau) => Math.fround(tau) === Math.fround(value));
    if (exact.length > 0) return exact[0];
    const digits = significantDigits(value);
    const rounded = available.filter((tau) => Number(tau.toPrecision(digits)) === value);
    if (rounded.length === 1) return rounded[0];
    const shown = available.map((tau) => String(Number(Math.fround(tau).toPrecision(7)))).join(', ');
    if (rounded.length === 0) throw new InputError(`--tau ${value}: no threshold of the selected runs is ${value} (they have ${shown})`);
    throw new InputError(`--tau ${value}: names ${rounded.length} thresholds (${rounded.join(', ')}); give more digits`);
  });
}

/** Significant digits of a number as written shortest (0.0178 → 3, 1e-5 → 1). */
function significantDigits(value: number): number {
  const mantissa = value.toExponential().split('e')[0].replace('-', '').replace('.', '');
  return Math.max(1, mantissa.length);
}
